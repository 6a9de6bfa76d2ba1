"""SIMULATION backend: simulated nodes whose simulated tasks only pretend to run.

Nothing is executed here. This backend exists for scheduler tests and scale benchmarks (the
equivalent of Kubernetes' hollow nodes, DESIGN §4): a simulated task "runs" for a scripted
time on the injected clock and "ends" with a scripted exit code. It is never a default and it
names itself a simulation in its registration, its agents and its messages.

It must carry 1,000 nodes and tens of thousands of tasks per benchmark, so no poll scans all
tasks or all agents: tasks due to end sit in a heap keyed by end time, and offers are
recomputed only for agents whose state changed since the last poll (a dirty set).
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from scale.backends.offers import (
    FinalUpdates,
    OfferBook,
    check_launch,
    free_to_offer,
    new_framework_id,
    sum_resources,
)
from scale.clock import SystemClock
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import (
    Agent,
    AgentLost,
    AgentUp,
    BackendEvent,
    NewOffer,
    OfferRescinded,
    Registration,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from scale.scheduler.ports import Clock

logger = logging.getLogger(__name__)

#: Task environment variable: simulated run time in seconds (float).
SIM_DURATION_ENV = "SCALE_SIM_DURATION"
#: Task environment variable: simulated exit code (int).
SIM_EXIT_CODE_ENV = "SCALE_SIM_EXIT_CODE"
SIM_MASTER_HOSTNAME = "sim-master"

#: ``script(spec) -> (duration seconds, exit code)`` decides how a simulated task behaves.
SimScript = Callable[[TaskSpec], tuple[float, int]]

_MIB_PER_GIB = 1024.0


@dataclass(frozen=True, slots=True)
class SimNode:
    """A simulated node: a hostname and the total it pretends to have (mem and disk in MiB)."""

    hostname: str
    total: Resources


def make_sim_nodes(count: int, *, seed: int = 0) -> list[SimNode]:
    """``count`` simulated nodes of mixed sizes, the same for the same seed.

    4–64 cpus, 2 or 4 GiB of memory per cpu (so 8–256 GiB), 100–2000 GiB of disk, and about
    one node in ten with 1–8 GPUs. Hostnames are ``sim-node-0001`` onwards.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    rng = random.Random(seed)
    nodes: list[SimNode] = []
    for number in range(1, count + 1):
        cpus = rng.choice((4, 8, 16, 32, 48, 64))
        mem_gib = cpus * rng.choice((2, 4))
        disk_gib = rng.choice((100, 250, 500, 1000, 2000))
        gpus = rng.choice((1, 2, 4, 8)) if rng.random() < 0.1 else 0
        total = Resources(
            cpus=float(cpus),
            mem=mem_gib * _MIB_PER_GIB,
            disk=disk_gib * _MIB_PER_GIB,
            gpus=float(gpus),
        )
        nodes.append(SimNode(hostname=f"sim-node-{number:04d}", total=total))
    return nodes


@dataclass(eq=False, slots=True)
class _SimTask:
    spec: TaskSpec
    agent_id: str
    ends_at: float
    exit_code: int
    ended: bool = False


@dataclass(eq=False, slots=True)
class _SimAgent:
    agent: Agent
    up: bool = True
    tasks: dict[str, _SimTask] = field(default_factory=dict)


class SimBackend:
    """SIMULATION of a cluster for scheduler tests and benchmarks; it runs nothing.

    A simulated task's run time and exit code come from ``script(spec)`` when given, else from
    its env ``SCALE_SIM_DURATION`` / ``SCALE_SIM_EXIT_CODE``, else ``default_duration_s`` and 0.
    Time is the injected clock's ``monotonic()``, so a ``FakeClock`` drives it: a task ends on
    the first poll at or after launch time + duration. Agent ids are ``sim-agent-0001``
    onwards, in the order of ``nodes``.
    """

    name: str = "sim"

    def __init__(
        self,
        nodes: Sequence[SimNode],
        *,
        clock: Clock | None = None,
        default_duration_s: float = 1.0,
        script: SimScript | None = None,
    ) -> None:
        hostnames = [node.hostname for node in nodes]
        if len(set(hostnames)) != len(hostnames):
            raise ValueError("simulated node hostnames must be unique")
        if default_duration_s < 0:
            raise ValueError(f"default_duration_s must not be negative, got {default_duration_s}")
        self._clock: Clock = clock or SystemClock()
        self._default_duration_s = default_duration_s
        self._script = script
        self._framework_id = new_framework_id(self.name)
        self._lock = threading.Lock()
        self._closed = False
        self._agents: dict[str, _SimAgent] = {}
        for number, node in enumerate(nodes, start=1):
            agent = Agent(agent_id=f"sim-agent-{number:04d}", hostname=node.hostname, total=node.total)
            self._agents[agent.agent_id] = _SimAgent(agent=agent)
        self._tasks: dict[str, _SimTask] = {}
        self._ending: list[tuple[float, int, _SimTask]] = []
        self._sequence = 0
        self._offers = OfferBook()
        self._finals = FinalUpdates()
        self._to_reconcile: list[str] = []
        # An ordered set: offers come out in a stable order, which keeps benchmarks repeatable.
        self._dirty: dict[str, None] = dict.fromkeys(self._agents)
        self._pending: list[BackendEvent] = [AgentUp(a.agent) for a in self._agents.values()]

    # -- the Backend protocol -------------------------------------------------------------------

    def register(self) -> Registration:
        return Registration(framework_id=self._framework_id, master_hostname=SIM_MASTER_HOSTNAME)

    def poll(self) -> list[BackendEvent]:
        """Every event since the last call, in order; then new offers for agents that changed."""
        with self._lock:
            if self._closed:
                return []
            self._end_due_tasks(self._clock.monotonic())
            self._answer_reconciles()
            events = self._pending
            self._pending = []
            if self._dirty:
                now = self._clock.now()
                for agent_id in self._dirty:
                    sim_agent = self._agents.get(agent_id)
                    if sim_agent is None or not sim_agent.up:
                        continue
                    running = sum_resources(task.spec.resources for task in sim_agent.tasks.values())
                    free = free_to_offer(sim_agent.agent.total, running, self._offers.outstanding(agent_id))
                    if free is not None:
                        offer = self._offers.create(agent_id, sim_agent.agent.hostname, free, now)
                        events.append(NewOffer(offer))
                self._dirty.clear()
            return events

    def launch(self, offer_ids: Sequence[str], tasks: Sequence[TaskSpec]) -> None:
        """Start simulated tasks; a refused launch fails every task of the call, never raises."""
        with self._lock:
            if self._closed:
                logger.warning("launch after close ignored: %s", [t.task_id for t in tasks])
                return
            offers, unknown = self._offers.take(offer_ids)
            for offer in offers:
                self._dirty[offer.agent_id] = None
            error = check_launch(offers, unknown, tasks, needs=lambda spec: spec.resources)
            if error is None:
                clash = [t.task_id for t in tasks if t.task_id in self._tasks]
                if clash:
                    error = "launch refused: task id(s) already running: " + ", ".join(clash)
            if error is not None:
                for spec in tasks:
                    self._fail(spec, error)
                return
            sim_agent = self._agents[offers[0].agent_id]
            start = self._clock.monotonic()
            for spec in tasks:
                self._start(spec, sim_agent, start)

    def decline(self, offer_ids: Sequence[str]) -> None:
        """Return offers; their capacity is offered again on the next poll. Unknown ids are ignored."""
        with self._lock:
            taken, _unknown = self._offers.take(offer_ids)
            for offer in taken:
                self._dirty[offer.agent_id] = None

    def kill(self, task_id: str) -> None:
        """End a simulated task at once (KILLED on the next poll); unknown → LOST."""
        with self._lock:
            if self._closed:
                return
            task = self._tasks.get(task_id)
            if task is None:
                self._pending.append(TaskStatus(self._final_or_lost(task_id)))
                return
            self._end(task, TaskState.KILLED, None, "simulated task killed on request")

    def recover(self) -> list[TaskUpdate]:
        """A simulation keeps nothing across schedulers: there is never anything to adopt."""
        return []

    def reconcile(self, task_ids: Sequence[str]) -> None:
        """Queue one update per id with the task's true state for the next poll."""
        with self._lock:
            self._to_reconcile.extend(task_ids)

    def agent_totals(self) -> dict[str, Resources]:
        """Totals of the simulated agents that are up (a lost agent is not counted)."""
        with self._lock:
            return {agent_id: a.agent.total for agent_id, a in self._agents.items() if a.up}

    def close(self) -> None:
        """Forget everything; later polls return nothing. Idempotent."""
        with self._lock:
            self._closed = True
            self._tasks.clear()
            self._ending.clear()
            self._offers.clear()
            self._pending = []
            self._to_reconcile = []
            self._dirty.clear()
            for sim_agent in self._agents.values():
                sim_agent.tasks.clear()

    # -- extras: test helpers of the simulation ----------------------------------------------------

    def agents(self) -> list[Agent]:
        """The simulated agents that are up."""
        with self._lock:
            return [a.agent for a in self._agents.values() if a.up]

    def lose_agent(self, agent_id: str) -> None:
        """Simulate losing an agent: AgentLost, its offers rescinded, its tasks LOST.

        Events are queued in that order for the next poll. Losing a lost agent does nothing.
        """
        with self._lock:
            sim_agent = self._agents.get(agent_id)
            if sim_agent is None:
                raise ValueError(f"no simulated agent {agent_id!r}")
            if not sim_agent.up or self._closed:
                return
            sim_agent.up = False
            self._pending.append(AgentLost(agent_id))
            for offer in self._offers.drop_agent(agent_id):
                self._pending.append(OfferRescinded(offer.offer_id))
            for task in list(sim_agent.tasks.values()):
                self._end(task, TaskState.LOST, None, "simulated agent lost")
            self._dirty.pop(agent_id, None)

    def restore_agent(self, agent_id: str, *, new_agent_id: str | None = None) -> None:
        """Bring a lost simulated agent back (AgentUp, then a full offer on the next poll).

        ``new_agent_id`` re-registers it under a new id with the same hostname, as a restarted
        Mesos agent would; node identity in the scheduler is the hostname (DESIGN §8).
        """
        with self._lock:
            sim_agent = self._agents.get(agent_id)
            if sim_agent is None:
                raise ValueError(f"no simulated agent {agent_id!r}")
            if sim_agent.up or self._closed:
                return
            if new_agent_id is not None and new_agent_id != agent_id:
                if new_agent_id in self._agents:
                    raise ValueError(f"simulated agent id {new_agent_id!r} is taken")
                del self._agents[agent_id]
                old = sim_agent.agent
                sim_agent.agent = Agent(agent_id=new_agent_id, hostname=old.hostname, total=old.total)
                self._agents[new_agent_id] = sim_agent
                agent_id = new_agent_id
            sim_agent.up = True
            self._pending.append(AgentUp(sim_agent.agent))
            self._dirty[agent_id] = None

    def __enter__(self) -> SimBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals (called with the lock held) --------------------------------------------------

    def _update(
        self, task_id: str, agent_id: str, state: TaskState, exit_code: int | None, message: str
    ) -> TaskUpdate:
        return TaskUpdate(
            task_id=task_id,
            agent_id=agent_id,
            state=state,
            timestamp=self._clock.now(),
            exit_code=exit_code,
            message=message,
        )

    def _fail(self, spec: TaskSpec, message: str) -> None:
        update = self._update(spec.task_id, spec.agent_id, TaskState.FAILED, None, message)
        self._pending.append(TaskStatus(update))
        if spec.task_id not in self._tasks:
            self._finals.remember(update)

    def _final_or_lost(self, task_id: str) -> TaskUpdate:
        final = self._finals.get(task_id)
        if final is not None:
            return final
        return self._update(task_id, "", TaskState.LOST, None, "unknown task")

    def _plan(self, spec: TaskSpec) -> tuple[float, int]:
        """(duration, exit code) for a simulated task; ValueError names a bad env value."""
        if self._script is not None:
            duration, exit_code = self._script(spec)
        else:
            duration, exit_code = self._default_duration_s, 0
            raw_duration = spec.env.get(SIM_DURATION_ENV)
            if raw_duration is not None:
                try:
                    duration = float(raw_duration)
                except ValueError:
                    raise ValueError(f"{SIM_DURATION_ENV}={raw_duration!r} is not a number") from None
            raw_code = spec.env.get(SIM_EXIT_CODE_ENV)
            if raw_code is not None:
                try:
                    exit_code = int(raw_code)
                except ValueError:
                    raise ValueError(f"{SIM_EXIT_CODE_ENV}={raw_code!r} is not an integer") from None
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"simulated duration must be a finite number >= 0, got {duration!r}")
        return duration, exit_code

    def _start(self, spec: TaskSpec, sim_agent: _SimAgent, start: float) -> None:
        try:
            duration, exit_code = self._plan(spec)
        except ValueError as exc:
            self._fail(spec, f"simulated task refused: {exc}")
            return
        agent_id = sim_agent.agent.agent_id
        task = _SimTask(spec=spec, agent_id=agent_id, ends_at=start + duration, exit_code=exit_code)
        self._tasks[spec.task_id] = task
        sim_agent.tasks[spec.task_id] = task
        self._finals.forget(spec.task_id)
        self._sequence += 1
        heapq.heappush(self._ending, (task.ends_at, self._sequence, task))
        self._pending.append(
            TaskStatus(
                self._update(spec.task_id, agent_id, TaskState.RUNNING, None, "simulated task running")
            )
        )

    def _end_due_tasks(self, now: float) -> None:
        """Pop tasks whose end time has come; killed or lost ones are skipped lazily."""
        ending = self._ending
        while ending and ending[0][0] <= now:
            _ends_at, _seq, task = heapq.heappop(ending)
            if task.ended:
                continue
            if task.exit_code == 0:
                self._end(task, TaskState.FINISHED, 0, "simulated task finished")
            else:
                self._end(
                    task,
                    TaskState.FAILED,
                    task.exit_code,
                    f"simulated task exited with code {task.exit_code}",
                )

    def _end(self, task: _SimTask, state: TaskState, exit_code: int | None, message: str) -> None:
        task.ended = True
        task_id = task.spec.task_id
        self._tasks.pop(task_id, None)
        sim_agent = self._agents.get(task.agent_id)
        if sim_agent is not None:
            sim_agent.tasks.pop(task_id, None)
            self._dirty[task.agent_id] = None
        update = self._update(task_id, task.agent_id, state, exit_code, message)
        self._pending.append(TaskStatus(update))
        self._finals.remember(update)

    def _answer_reconciles(self) -> None:
        for task_id in self._to_reconcile:
            task = self._tasks.get(task_id)
            if task is not None:
                update = self._update(task_id, task.agent_id, TaskState.RUNNING, None, "reconciled")
            else:
                update = self._final_or_lost(task_id)
            self._pending.append(TaskStatus(update))
        self._to_reconcile = []
