"""The Docker runtime's node-side commands (``python -m scale.runtime``), run the way a node runs
them: the pure parts directly, cleanup against this session's engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scale.runtime import docker
from scale.scheduler.executions import CONTAINER_EXIT_ERRORS, container_name
from tests.docker.conftest import IMAGE, Engine


def runtime(*args: str, engine: Engine, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scale.runtime", *args],
        env=engine.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_run_command_line_carries_the_allocation(tmp_path: Path) -> None:
    workdir = tmp_path / "executions" / "node-1" / "scale_job_fw_7x1"
    env = {
        "ALLOCATED_CPUS": "1.5",
        "ALLOCATED_MEM": "256",
        "ALLOCATED_GPUS": "2",
        "CUDA_VISIBLE_DEVICES": "0,3",
        "SCALE_CONTAINER_ENV": "ALLOCATED_CPUS,INPUT_A",
        "INPUT_A": "x",
        "SCALE_JOB_ID": "7",
        "NOT_PASSED": "secret",
    }
    argv = docker.run_argv("img:1", "echo $INPUT_A", name="n_main", workdir=workdir, env=env)
    assert argv[:4] == ["docker", "run", "--name", "n_main"]
    joined = " ".join(argv)
    assert "--label scale.cluster_id=scale_job_fw_7x1" in joined
    assert f"--label scale.exe_root={workdir.parent}" in joined
    assert f"--volume {workdir}:{workdir} --workdir {workdir}" in joined
    assert "--network none" in joined
    assert "--pull never" in joined
    assert "--cpus 1.5 --memory 256m --memory-swap 256m" in joined
    assert '--gpus "device=0,3"' in joined
    passed = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert passed == ["ALLOCATED_CPUS", "INPUT_A", "SCALE_JOB_ID", "ALLOCATED_MEM", "ALLOCATED_GPUS"]
    assert argv[-4:] == ["img:1", "sh", "-c", "echo $INPUT_A"]
    assert "--rm" not in argv  # the state is read after the run, then the container removed


def test_exit_codes_and_names_agree_with_the_scheduler() -> None:
    assert CONTAINER_EXIT_ERRORS == {
        docker.EXIT_DOCKER_TERMINATED: "docker-terminated",
        docker.EXIT_DOCKER_LAUNCH: "docker-task-launch",
    }
    assert container_name("scale_job_scale-ray/x_3x1") == "scale_job_scale-ray_x_3x1_main"
    oom = {"StartedAt": "2026-01-01T00:00:00Z", "OOMKilled": True, "ExitCode": 137}
    assert docker.outcome(137, oom, terminated=False)[0] == docker.EXIT_DOCKER_TERMINATED
    never = {"StartedAt": "0001-01-01T00:00:00Z", "ExitCode": 127, "Error": "exec: sh: not found"}
    assert docker.outcome(127, never, terminated=False)[0] == docker.EXIT_DOCKER_LAUNCH
    assert docker.outcome(125, None, terminated=False)[0] == docker.EXIT_DOCKER_LAUNCH
    exited = {"StartedAt": "2026-01-01T00:00:00Z", "OOMKilled": False, "ExitCode": 9}
    assert docker.outcome(9, exited, terminated=False)[0] == 9
    assert docker.outcome(137, exited, terminated=True)[0] == 143


@pytest.mark.parametrize(
    ("image", "tag"),
    [("busybox", "latest"), ("a/b:1.2", "1.2"), ("host:5000/a/b", "latest"), ("a@sha256:00", None)],
)
def test_image_tags(image: str, tag: str | None) -> None:
    assert docker.image_tag(image) == tag


def test_pull_skips_a_present_image_and_fails_on_an_absent_one(engine: Engine) -> None:
    present = runtime("pull", IMAGE, engine=engine)
    assert present.returncode == 0 and "is present, not pulled" in present.stdout
    absent = runtime("pull", "127.0.0.1:1/nothing:1", engine=engine)
    assert absent.returncode == 1, absent


def test_cleanup_removes_our_containers_and_their_volumes(engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "executions" / "node-1"

    def create(cluster_id: str, *, run: bool = False, exe_root: Path = root) -> str:
        name = f"{tmp_path.name}-{cluster_id}"
        labels = ["--label", f"scale.cluster_id={cluster_id}", "--label", f"scale.exe_root={exe_root}"]
        args = ["run", "-d"] if run else ["create"]
        done = engine.docker(*args, "--network", "none", "--name", name, *labels, IMAGE, "sleep", "300")
        assert done.returncode == 0, done.stderr
        (root / cluster_id).mkdir(parents=True, exist_ok=True)
        return name

    finished, kept, running, other = (
        create("exe1"),
        create("exe2"),
        create("exe3", run=True),
        create("exe4", exe_root=tmp_path / "another-node"),
    )
    volumes_before = set(engine.volumes())
    assert len(volumes_before) >= 4  # the image's /scratch volume, one per container

    # Initial cleanup: stopped containers of this node except those in use; running ones stay
    initial = runtime("cleanup", str(root), "--initial", "exe2", engine=engine)
    assert initial.returncode == 0, initial
    left = set(engine.containers())
    assert finished not in left and {kept, running, other} <= left

    # Regular cleanup: the named finished executions, whatever their state
    regular = runtime("cleanup", str(root), "exe2", "exe3", engine=engine)
    assert regular.returncode == 0, regular
    left = set(engine.containers())
    assert not {finished, kept, running} & left and other in left
    assert len(engine.volumes()) == 1  # only ``other``'s volume is left
    engine.docker("rm", "-f", "-v", other)
    assert engine.volumes() == []


def test_health_answers_while_the_engine_does(engine: Engine, tmp_path: Path) -> None:
    ok = runtime("health", str(tmp_path), "1", engine=engine)
    assert ok.returncode == 0 and "Docker ok" in ok.stdout, ok
    low = runtime("health", str(tmp_path), str(10**12), engine=engine)
    assert low.returncode == docker.EXIT_LOW_DISK, low
    gone = subprocess.run(
        [sys.executable, "-m", "scale.runtime", "health", str(tmp_path), "1"],
        env={**engine.env, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert gone.returncode == docker.EXIT_BAD_DAEMON, gone
