"""The local backend's part in the Docker runtime: killing a container task removes its container
even when the task's own runner does not (it ignores SIGTERM here, as a stuck runner would)."""

from __future__ import annotations

from pathlib import Path

from scale.backends.local import LocalBackend
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import AgentUp, TaskSpec
from tests.backends.conftest import Recorder
from tests.docker.conftest import IMAGE, Engine
from tests.util import wait_until


def test_a_killed_container_task_loses_its_container(engine: Engine, tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "data", kill_grace_s=3.0)
    try:
        rec = Recorder(backend)
        agent = next(e.agent.agent_id for e in rec.poll() if isinstance(e, AgentUp))
        name = f"{tmp_path.name}_main"
        # A runner that neither forwards SIGTERM nor kills its container
        command = f"trap '' TERM; docker run --name {name} --sig-proxy=false {IMAGE} sleep 300"
        task = TaskSpec(
            task_id="t1",
            agent_id=agent,
            resources=Resources(0.5, 64.0),
            command=command,
            env={"DOCKER_HOST": engine.host, "SCALE_CONTAINER_NAME": name},
            workdir=str(tmp_path / "work"),
            image=IMAGE,
        )
        rec.launch([task])
        wait_until(
            lambda: name in engine.containers("status=running"), timeout=30, what="the container to run"
        )
        backend.kill("t1")
        wait_until(lambda: name not in engine.containers(), timeout=10, what="the container to be removed")
        rec.wait_for("t1", TaskState.KILLED, timeout=15)
    finally:
        backend.close()
