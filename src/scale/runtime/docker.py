"""The Docker runtime as node-side commands: pull an image, run a main task in a container, check
the engine, clean up containers (DESIGN §7, §8).

    python -m scale.runtime pull IMAGE
        skip when IMAGE is present (unless its tag is ``latest``), else ``docker pull``; 1 on failure
    python -m scale.runtime run IMAGE COMMAND
        run COMMAND with ``sh -c`` in a container of IMAGE (cwd: the execution's directory)
    python -m scale.runtime health DATA_DIR MIN_FREE_MB
        ``docker info`` (2 when the engine does not answer), free disk of DATA_DIR (3) and of the
        engine's data root (5)
    python -m scale.runtime cleanup ROOT [--initial] [NAME ...]
        ``scale.taskrunner cleanup`` for the directories, then the containers (and their
        anonymous volumes) of those executions; ``--initial``: every stopped container of ROOT
        except the NAMEs given

The engine is the one ``DOCKER_HOST`` names (the docker CLI's own default otherwise). Why a
wrapper around ``docker run`` and not the bare command: it names and labels the container, sets
its limits from the allocation, turns an engine OOM kill or a failed start into an exit code the
scheduler maps to a system error (``CONTAINER_EXIT_ERRORS`` in ``scheduler/executions.py``),
kills the container when the task is terminated, and removes the container once its state has
been read. Standard library only (plus ``scale.taskrunner``) so that a task starts fast.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scale import taskrunner
from scale.scheduler.executions import container_name

#: ``run``: the engine killed the container (out of memory) or the container vanished.
#: Mapped to ``docker-terminated``; must match ``scheduler/executions.py``.
EXIT_DOCKER_TERMINATED = 250
#: ``run``: the container could not be created or started. Mapped to ``docker-task-launch``.
EXIT_DOCKER_LAUNCH = 251
#: ``run``: terminated on request (SIGTERM/SIGINT): the container was killed.
EXIT_TERMINATED = 128 + int(signal.SIGTERM)
#: ``health`` exit codes (Scale's health task: 2 daemon, 3 disk; 5 is the engine's data root).
EXIT_BAD_DAEMON = 2
EXIT_LOW_DISK = taskrunner.EXIT_LOW_DISK
EXIT_LOW_DOCKER_SPACE = 5
#: ``pull`` and ``cleanup``: the engine refused.
EXIT_FAILED = 1

#: Labels on every container this system creates, so cleanup finds exactly ours.
LABEL_CLUSTER_ID = "scale.cluster_id"
LABEL_EXE_ROOT = "scale.exe_root"
#: Set by the scheduler on container tasks: the container's name, and the (comma-separated)
#: names of the job's variables to pass into the container.
NAME_ENV = "SCALE_CONTAINER_NAME"
ENV_LIST_ENV = "SCALE_CONTAINER_ENV"
#: Scale's own variables, always passed into the container when set.
SCALE_VARIABLES: tuple[str, ...] = (
    "SCALE_JOB_ID",
    "SCALE_EXE_NUM",
    "SCALE_JOB_EXE_ID",
    "SCALE_TASK_TYPE",
    "OUTPUT_DIR",
    "ALLOCATED_CPUS",
    "ALLOCATED_MEM",
    "ALLOCATED_DISK",
    "ALLOCATED_GPUS",
)
#: How long one docker CLI call for housekeeping (inspect, kill, rm, info) may take.
CLI_TIMEOUT_S = 30.0
#: ``docker pull`` backstop; the scheduler times the pull task out first (30 min).
PULL_CLI_TIMEOUT_S = 3600.0
#: How often ``run`` re-sends the kill while the container still runs after a SIGTERM.
KILL_RETRY_S = 2.0
_NEVER_STARTED = "0001-01-01T00:00:00Z"


def _log(message: str) -> None:
    print(f"scale.runtime: {message}", file=sys.stderr, flush=True)


def docker(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """One docker CLI call with captured output; a hung engine counts as a failure (rc 124)."""
    try:
        return subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["docker", *args], 124, "", f"docker {args[0]}: timed out")
    except OSError as exc:
        return subprocess.CompletedProcess(["docker", *args], 127, "", f"docker: {exc}")


# --------------------------------------------------------------------------- pull


def image_tag(image: str) -> str | None:
    """The tag of an image reference: ``latest`` when none is given, None when pinned by digest."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def pull(image: str) -> int:
    if image_tag(image) != "latest" and docker("image", "inspect", image).returncode == 0:
        print(f"pull: {image} is present, not pulled")
        return 0
    print(f"pull: pulling {image}", flush=True)
    # The scheduler's pull timeout (30 min) is the one that ends a slow pull; this is a backstop.
    done = docker("pull", image, timeout=PULL_CLI_TIMEOUT_S)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        _log(f"cannot pull {image}")
        return EXIT_FAILED
    return 0


# --------------------------------------------------------------------------- run


def _number(env: Mapping[str, str], name: str) -> float:
    try:
        value = float(env.get(name, "0") or 0)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _gpu_argument(env: Mapping[str, str]) -> str | None:
    """``--gpus`` for the allocation: the devices the backend assigned, else a count."""
    gpus = _number(env, "ALLOCATED_GPUS")
    if gpus <= 0:
        return None
    devices = env.get("CUDA_VISIBLE_DEVICES", "").strip()
    if devices:
        return f'"device={devices}"' if "," in devices else f"device={devices}"
    return str(math.ceil(gpus))


def container_variables(env: Mapping[str, str]) -> list[str]:
    """Names of the variables passed into the container (``-e NAME``: docker copies the value)."""
    names = [n for n in env.get(ENV_LIST_ENV, "").split(",") if n]
    names += [n for n in SCALE_VARIABLES if n not in names]
    return [n for n in names if n in env]


def run_argv(
    image: str,
    command: str,
    *,
    name: str,
    workdir: Path,
    env: Mapping[str, str],
    user: str | None = None,
) -> list[str]:
    """The ``docker run`` command line for a main task (pure, so it can be checked directly)."""
    argv = [
        "docker",
        "run",
        "--name",
        name,
        "--label",
        f"{LABEL_CLUSTER_ID}={workdir.name}",
        "--label",
        f"{LABEL_EXE_ROOT}={workdir.parent}",
        "--network",
        "none",
        # The pull task is the one place an image is fetched (and fails with ``pull``).
        "--pull",
        "never",
        "--volume",
        f"{workdir}:{workdir}",
        "--workdir",
        str(workdir),
    ]
    if user:
        argv += ["--user", user]
    cpus = _number(env, "ALLOCATED_CPUS")
    if cpus > 0:
        argv += ["--cpus", f"{cpus:g}"]
    mem = _number(env, "ALLOCATED_MEM")
    if mem > 0:
        # Same limit for memory+swap: over the allocation is an OOM kill, not swapping.
        limit = f"{math.ceil(mem)}m"
        argv += ["--memory", limit, "--memory-swap", limit]
    gpus = _gpu_argument(env)
    if gpus is not None:
        argv += ["--gpus", gpus]
    for variable in container_variables(env):
        argv += ["--env", variable]
    return [*argv, image, "sh", "-c", command]


def container_state(name: str) -> dict[str, Any] | None:
    """``docker inspect``'s ``State`` of a container; None when it does not exist (or no engine)."""
    done = docker("inspect", "--type", "container", "--format", "{{json .State}}", name)
    if done.returncode != 0:
        return None
    try:
        state = json.loads(done.stdout)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def outcome(returncode: int, state: Mapping[str, Any] | None, terminated: bool) -> tuple[int, str]:
    """The task's exit code and a line for its log, from ``docker run``'s code and the state."""
    if terminated:
        return EXIT_TERMINATED, "terminated on request: container killed"
    if state is None:
        if returncode == 125:
            return EXIT_DOCKER_LAUNCH, "the container could not be created"
        return EXIT_DOCKER_TERMINATED, f"the container is gone (docker run exited {returncode})"
    if str(state.get("StartedAt", _NEVER_STARTED)).startswith("0001-"):
        return EXIT_DOCKER_LAUNCH, f"the container did not start: {state.get('Error') or returncode}"
    if state.get("OOMKilled"):
        return EXIT_DOCKER_TERMINATED, "the engine killed the container: out of memory"
    code = state.get("ExitCode")
    if isinstance(code, int) and not state.get("Running"):
        return code, f"the container exited with code {code}"
    return returncode, f"docker run exited with code {returncode}"


def run(image: str, command: str, *, env: Mapping[str, str], workdir: Path) -> int:
    """Run the main task's container attached (its output is this task's output) and wait."""
    name = env.get(NAME_ENV) or container_name(workdir.name)
    terminated = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A container of this name may be left by an earlier attempt at this step (a lost task).
    docker("rm", "--force", "--volumes", name)
    user = None if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    argv = run_argv(image, command, name=name, workdir=workdir, env=env, user=user)
    _log(f"container {name} image {image}")
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        _log(f"cannot run docker: {exc}")
        return EXIT_DOCKER_LAUNCH
    last_kill = -math.inf
    while True:
        try:
            returncode = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if terminated and time.monotonic() - last_kill >= KILL_RETRY_S:
            # Killed until it is gone: a kill sent before the container exists misses it.
            docker("kill", name)
            last_kill = time.monotonic()
    state = container_state(name)
    code, message = outcome(returncode, state, terminated)
    _log(message)
    removed = docker("rm", "--force", "--volumes", name)
    if removed.returncode != 0 and state is not None:
        _log(f"could not remove {name} (cleanup will): {removed.stderr.strip()}")
    return code


# --------------------------------------------------------------------------- health


def health(data_dir: Path, min_free_mb: float) -> int:
    info = docker("info", "--format", "{{json .DockerRootDir}}", timeout=20.0)
    if info.returncode != 0:
        print(f"health: the Docker engine is not responding: {info.stderr.strip()}", file=sys.stderr)
        return EXIT_BAD_DAEMON
    code = taskrunner.health(data_dir, min_free_mb)
    if code != 0:
        return code
    try:
        root = Path(json.loads(info.stdout))
    except (ValueError, TypeError):
        root = Path()
    if not root.is_absolute() or not root.is_dir():
        print(f"health: the engine's data root {root} is not on this host; its disk is not checked")
        return 0
    free_mb = shutil.disk_usage(root).free / (1024 * 1024)
    if free_mb < min_free_mb:
        print(
            f"health: {free_mb:.0f} MiB free for Docker on {root}, below {min_free_mb:.0f}", file=sys.stderr
        )
        return EXIT_LOW_DOCKER_SPACE
    print(f"health: Docker ok, {free_mb:.0f} MiB free on {root}")
    return 0


# --------------------------------------------------------------------------- cleanup


def _containers(*filters: str) -> list[tuple[str, str, str]] | None:
    """(id, state, cluster id) of the containers matching every ``label=...`` filter."""
    args = ["ps", "--all", "--no-trunc", "--format", '{{.ID}}\t{{.State}}\t{{.Label "scale.cluster_id"}}']
    for f in filters:
        args += ["--filter", f]
    done = docker(*args)
    if done.returncode != 0:
        print(f"cleanup: {done.stderr.strip()}", file=sys.stderr)
        return None
    rows = []
    for line in done.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def remove_containers(root: Path, initial: bool, names: Sequence[str]) -> int:
    """Remove our containers (with their anonymous volumes) and our labelled volumes."""
    rows = _containers(f"label={LABEL_EXE_ROOT}={root}")
    if rows is None:
        return EXIT_FAILED
    if initial:
        keep = set(names)
        targets = [cid for cid, state, cluster in rows if cluster not in keep and state != "running"]
    else:
        wanted = set(names)
        targets = [cid for cid, _state, cluster in rows if cluster in wanted]
    if targets:
        done = docker("rm", "--force", "--volumes", *targets)
        if done.returncode != 0:
            print(f"cleanup: {done.stderr.strip()}", file=sys.stderr)
            return EXIT_FAILED
    volumes = docker("volume", "ls", "--quiet", "--filter", f"label={LABEL_EXE_ROOT}={root}")
    ours = volumes.stdout.split() if volumes.returncode == 0 else []
    if ours:
        docker("volume", "rm", "--force", *ours)
    print(f"cleanup: removed {len(targets)} container(s) and {len(ours)} volume(s)")
    return 0


def cleanup(root: Path, initial: bool, names: list[str]) -> int:
    code = taskrunner.cleanup(root, initial, names)
    return code if code != 0 else remove_containers(root, initial, names)


# --------------------------------------------------------------------------- entry point

USAGE = "usage: python -m scale.runtime pull IMAGE | run IMAGE COMMAND | health DIR MIN_MB | cleanup ROOT ..."


def main(argv: list[str]) -> int:
    if argv[:1] == ["pull"] and len(argv) == 2:
        return pull(argv[1])
    if argv[:1] == ["run"] and len(argv) == 3:
        return run(argv[1], argv[2], env=os.environ, workdir=Path.cwd())
    if argv[:1] == ["health"] and len(argv) == 3:
        return health(Path(argv[1]), float(argv[2]))
    if argv[:1] == ["cleanup"] and len(argv) >= 2:
        rest = argv[2:]
        return cleanup(Path(argv[1]), "--initial" in rest, [a for a in rest if a != "--initial"])
    print(USAGE, file=sys.stderr)
    return 2
