"""The Ray backend against a real 3-node Ray cluster, driven directly through the Backend contract."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scale.backends import make_backend
from scale.backends.ray.backend import RayBackend
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import AgentUp, BackendEvent, NewOffer, Offer, TaskSpec, TaskStatus, TaskUpdate
from tests.ray.conftest import GPU_NODE, HEAD, NODES, WORKER
from tests.util import wait_until

pytestmark = pytest.mark.slow

SMALL = Resources(cpus=0.1, mem=32.0)


class Driver:
    """Polls a backend and keeps every event, so a test can wait for the one it needs."""

    def __init__(self, backend: RayBackend) -> None:
        self.backend = backend
        self.events: list[BackendEvent] = []
        self.agents: dict[str, AgentUp] = {}
        self.offers: dict[str, Offer] = {}

    def poll(self) -> list[BackendEvent]:
        events = self.backend.poll()
        for event in events:
            if isinstance(event, AgentUp):
                self.agents[event.agent.hostname] = event
            elif isinstance(event, NewOffer):
                self.offers[event.offer.offer_id] = event.offer
        self.events.extend(events)
        return events

    def agent_id(self, hostname: str) -> str:
        if hostname not in self.agents:
            wait_until(lambda: self.poll() is not None and hostname in self.agents, what=f"agent {hostname}")
        return self.agents[hostname].agent.agent_id

    def updates(self, task_id: str) -> list[TaskUpdate]:
        return [e.update for e in self.events if isinstance(e, TaskStatus) and e.update.task_id == task_id]

    def wait_state(self, task_id: str, *states: TaskState, timeout: float = 30.0) -> TaskUpdate:
        def seen() -> TaskUpdate | None:
            self.poll()
            return next((u for u in self.updates(task_id) if u.state in states), None)

        update: TaskUpdate = wait_until(seen, timeout=timeout, interval=0.1, what=f"{task_id} {states}")
        return update

    def launch(self, hostname: str, spec: TaskSpec) -> None:
        """Launch on all outstanding offers of the node (what the scheduler does)."""
        agent_id = self.agent_id(hostname)

        def offers() -> list[str]:
            self.poll()
            return [o.offer_id for o in self.offers.values() if o.agent_id == agent_id]

        ids = wait_until(offers, what=f"an offer from {hostname}")
        for offer_id in ids:
            self.offers.pop(offer_id)
        self.backend.launch(ids, [spec])

    def offered(self, hostname: str) -> Resources:
        agent_id = self.agent_id(hostname)
        total = Resources()
        for offer in self.offers.values():
            if offer.agent_id == agent_id:
                total = total + offer.resources
        return total


def spec(
    driver: Driver, hostname: str, task_id: str, command: str, tmp: Path, res: Resources = SMALL
) -> TaskSpec:
    return TaskSpec(
        task_id=task_id,
        agent_id=driver.agent_id(hostname),
        resources=res,
        command=command,
        env={"GREETING": "hello"},
        workdir=str(tmp / task_id),
        stdout_path=str(tmp / task_id / "logs" / "stdout"),
        stderr_path=str(tmp / task_id / "logs" / "stderr"),
    )


@pytest.fixture
def driver(namespace: str, ray_driver: str) -> Iterator[Driver]:
    backend = RayBackend(ray_driver, namespace=namespace, kill_grace_s=1.0)
    backend.register()
    yield Driver(backend)
    backend.close(kill_tasks=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its reaper is dead for our purposes.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def test_registration_and_agents_are_the_ray_nodes(namespace: str, ray_driver: str) -> None:
    backend = make_backend("ray", address=ray_driver, namespace=namespace)
    try:
        registration = backend.register()
        host, port = ray_driver.rsplit(":", 1)
        assert (registration.master_hostname, registration.master_port) == (host, int(port))
        assert registration.framework_id.startswith(f"{namespace}-ray-")
        ups = [e.agent for e in backend.poll() if isinstance(e, AgentUp)]
        assert sorted(a.hostname for a in ups) == sorted(n.name for n in NODES)
        for agent in ups:
            node = next(n for n in NODES if n.name == agent.hostname)
            assert agent.total == Resources(node.cpus, node.mem_mib, node.disk_mb, node.gpus)
        assert backend.agent_totals() == {a.agent_id: a.total for a in ups}
    finally:
        backend.close()


def test_a_task_runs_on_its_node_writes_its_output_and_reports_its_exit(
    driver: Driver, tmp_path: Path
) -> None:
    gpu = Resources(cpus=0.1, mem=32.0, gpus=1.0)
    command = 'echo "$GREETING gpus=$CUDA_VISIBLE_DEVICES pid=$$"; echo oops >&2; exit 3'
    driver.launch(GPU_NODE.name, spec(driver, GPU_NODE.name, "t-gpu", command, tmp_path, gpu))
    running = driver.wait_state("t-gpu", TaskState.RUNNING)
    assert running.agent_id == driver.agent_id(GPU_NODE.name)
    end = driver.wait_state("t-gpu", TaskState.FAILED)
    assert end.exit_code == 3
    out = (tmp_path / "t-gpu" / "logs" / "stdout").read_text()
    assert out.startswith("hello gpus=0 pid=")
    assert (tmp_path / "t-gpu" / "logs" / "stderr").read_text() == "oops\n"

    driver.launch(HEAD.name, spec(driver, HEAD.name, "t-ok", "echo gpus=[$CUDA_VISIBLE_DEVICES]", tmp_path))
    assert driver.wait_state("t-ok", TaskState.FINISHED).exit_code == 0
    assert (tmp_path / "t-ok" / "logs" / "stdout").read_text() == "gpus=[]\n"


def test_offers_leave_out_what_our_tasks_hold(driver: Driver, tmp_path: Path) -> None:
    before = wait_until(
        lambda: driver.poll() is not None and driver.offered(WORKER.name).cpus >= WORKER.cpus,
        what="the whole worker offered",
    )
    assert before
    assert driver.offered(WORKER.name) == Resources(WORKER.cpus, WORKER.mem_mib, WORKER.disk_mb, 0)
    big = Resources(cpus=1.5, mem=1024.0, disk=100.0)
    driver.launch(WORKER.name, spec(driver, WORKER.name, "t-hold", "sleep 30", tmp_path, big))
    driver.wait_state("t-hold", TaskState.RUNNING)
    driver.poll()
    assert driver.offered(WORKER.name) == Resources(0.5, WORKER.mem_mib - 1024.0, WORKER.disk_mb - 100.0, 0)


def test_kill_stops_the_whole_process_group(driver: Driver, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    driver.launch(WORKER.name, spec(driver, WORKER.name, "t-kill", command, tmp_path))
    driver.wait_state("t-kill", TaskState.RUNNING)
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the child's pid")
    child = int(pidfile.read_text())
    driver.backend.kill("t-kill")
    killed = driver.wait_state("t-kill", TaskState.KILLED)
    assert killed.exit_code == 128 + 15
    wait_until(lambda: not alive(child), timeout=5, what="the task's child to be gone")


def test_a_dead_actor_takes_its_task_with_it_and_the_task_is_lost(
    driver: Driver, namespace: str, tmp_path: Path
) -> None:
    """The worker running a task's actor dies (as on a lost node): its watchdog ends the task's
    process group, and the task is reported LOST."""
    import ray

    pidfile = tmp_path / "child.pid"
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    driver.launch(WORKER.name, spec(driver, WORKER.name, "t-orphan", command, tmp_path))
    driver.wait_state("t-orphan", TaskState.RUNNING)
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the child's pid")
    child = int(pidfile.read_text())
    ray.kill(ray.get_actor("t-orphan", namespace=namespace), no_restart=True)
    assert driver.wait_state("t-orphan", TaskState.LOST).exit_code is None
    wait_until(lambda: not alive(child), timeout=5, what="the orphaned child to be gone")


def test_reconcile_answers_running_ended_and_unknown(driver: Driver, tmp_path: Path) -> None:
    driver.launch(HEAD.name, spec(driver, HEAD.name, "t-long", "sleep 30", tmp_path))
    driver.launch(HEAD.name, spec(driver, HEAD.name, "t-short", "exit 4", tmp_path))
    driver.wait_state("t-long", TaskState.RUNNING)
    driver.wait_state("t-short", TaskState.FAILED)
    driver.events.clear()
    driver.backend.reconcile(["t-long", "t-short", "t-never"])
    driver.poll()
    answers = {u.task_id: u for e in driver.events if isinstance(e, TaskStatus) for u in [e.update]}
    assert answers["t-long"].state == TaskState.RUNNING
    assert (answers["t-short"].state, answers["t-short"].exit_code) == (TaskState.FAILED, 4)
    assert answers["t-never"].state == TaskState.LOST


def test_recover_adopts_running_tasks_and_reports_the_ones_that_ended(
    namespace: str, ray_driver: str, tmp_path: Path
) -> None:
    first = Driver(RayBackend(ray_driver, namespace=namespace, kill_grace_s=1.0))
    first.backend.register()
    gate = tmp_path / "gate"
    first.launch(
        WORKER.name, spec(first, WORKER.name, "t-gated", f"until [ -e {gate} ]; do sleep 0.1; done", tmp_path)
    )
    first.launch(WORKER.name, spec(first, WORKER.name, "t-sleeper", "sleep 60", tmp_path))
    late = tmp_path / "late"
    first.launch(
        HEAD.name,
        spec(first, HEAD.name, "t-done", f"until [ -e {late} ]; do sleep 0.1; done; exit 5", tmp_path),
    )
    for task_id in ("t-gated", "t-sleeper", "t-done"):
        first.wait_state(task_id, TaskState.RUNNING)
    worker_id = first.agent_id(WORKER.name)
    first.backend.detach()  # the scheduler goes away; its tasks do not
    # t-done ends while no scheduler watches; its actor keeps the exit code
    late.touch()
    import ray

    actor = ray.get_actor("t-done", namespace=namespace)
    wait_until(lambda: ray.get(actor.info.remote()).done, what="t-done to end")

    second = Driver(RayBackend(ray_driver, namespace=namespace, kill_grace_s=1.0))
    try:
        second.backend.register()
        recovered = {u.task_id: u for u in second.backend.recover()}
        assert set(recovered) == {"t-gated", "t-sleeper", "t-done"}
        assert recovered["t-gated"].state == recovered["t-sleeper"].state == TaskState.RUNNING
        assert recovered["t-gated"].agent_id == worker_id
        assert (recovered["t-done"].state, recovered["t-done"].exit_code) == (TaskState.FAILED, 5)

        # Their resources are not offered: 2 × 0.1 cpu of the worker are held
        second.poll()
        assert second.offered(WORKER.name).cpus == pytest.approx(WORKER.cpus - 0.2)
        # Their end is reported like that of a task we launched, and kill works
        gate.touch()
        assert second.wait_state("t-gated", TaskState.FINISHED).exit_code == 0
        second.backend.kill("t-sleeper")
        assert second.wait_state("t-sleeper", TaskState.KILLED).exit_code == 128 + 15
        wait_until(
            lambda: (
                second.poll() is not None and second.offered(WORKER.name).cpus == pytest.approx(WORKER.cpus)
            ),
            what="the worker's capacity offered again",
        )
    finally:
        second.backend.close(kill_tasks=True)


def test_making_the_backend_needs_an_address() -> None:
    with pytest.raises(ValueError, match="GCS address"):
        make_backend("ray", address="")
