"""The Ray backend: the scheduler's Mesos-shaped contract (DESIGN §4) over a Ray cluster (§12).

- master = the GCS address; framework id = ``<namespace>-ray-<8 hex>``, a fresh one per
  registration; every actor we create lives in the Ray namespace ``namespace``.
- agents = Ray nodes (``ray.nodes()``); a node that is no longer ``Alive`` is lost, and we
  report its tasks LOST ourselves, since an orphaned actor may never fail its reference.
- offers = what each node has available, polled every ``poll``, less what our own tasks hold
  or are about to hold (Ray's view lags a launch by a moment) and less outstanding offers.
- launch = one named, detached ``TaskRunner`` actor per task, pinned to the offer's node with
  ``NodeAffinitySchedulingStrategy(soft=False)`` and holding the task's resources. Its
  ``info`` reference resolving means the command has started (RUNNING); its ``wait``
  reference resolving means it ended. Only then is the actor killed, freeing the resources.
- kill = the actor's ``kill`` (SIGTERM the group, SIGKILL after a grace), then ``ray.kill``.
- ``recover`` = list the named actors of our namespace and adopt each: detached actors outlive
  the scheduler, and a task that ended meanwhile kept its exit code in its actor.

Ray is imported inside methods only, so this module costs nothing until a backend is made.
All waiting is non-blocking (``ray.wait(timeout=0)``) except in ``recover`` and ``close``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from scale.backends.offers import FinalUpdates, OfferBook, check_launch, is_dust, sum_resources
from scale.backends.ray.actor import DEFAULT_KILL_GRACE_S, RunnerSpec, RunnerState, TaskRunner
from scale.backends.ray.nodes import DISK_RESOURCE, RayNode, available_per_node, list_nodes
from scale.clock import SystemClock
from scale.domain.resources import ZERO, Resources
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

#: The Ray namespace our actors live in, unless configured otherwise.
DEFAULT_NAMESPACE = "scale"
#: How long ``recover`` waits for the adopted actors to answer.
RECOVER_TIMEOUT_S = 30.0
#: How many task-runner methods one actor runs at once (``wait`` blocks; ``info``, ``kill`` answer).
_ACTOR_CONCURRENCY = 4
_BYTES_PER_MIB = 1024 * 1024
#: Ray's resource granularity.
_RAY_DIGITS = 4
#: For this long after one of our tasks ends, its resources count as available even if Ray's view
#: (which lags the actor's death by a poll or two) still shows them held.
RELEASE_CREDIT_S = 3.0
#: An outstanding offer may exceed what a node has by this much before it is rescinded.
_OVERCOMMIT_SLACK = Resources(cpus=0.01, mem=1.0, disk=1.0, gpus=0.01)


def task_needs(spec: TaskSpec) -> Resources:
    """What a task holds on its node: its request, GPUs rounded up to whole devices.

    Ray would accept a fraction of a GPU, but ``CUDA_VISIBLE_DEVICES`` cannot express one and
    the local backend rounds the same way, so a job needs the same nodes on either backend.
    """
    r = spec.resources
    if r.gpus <= 0:
        return r
    return Resources(r.cpus, r.mem, r.disk, float(math.ceil(r.gpus - 1e-9)))


def actor_resources(needs: Resources) -> dict[str, Any]:
    """The Ray options that make an actor hold ``needs``: cpus, memory in bytes, GPUs, ``disk_mb``."""
    options: dict[str, Any] = {
        "num_cpus": round(needs.cpus, _RAY_DIGITS),
        "num_gpus": round(needs.gpus, _RAY_DIGITS),
        "memory": int(needs.mem * _BYTES_PER_MIB),
    }
    disk = round(needs.disk, _RAY_DIGITS)
    options["resources"] = {DISK_RESOURCE: disk} if disk > 0 else {}
    return options


def describe_end(state: RunnerState) -> tuple[TaskState, int | None, str]:
    """The final (state, exit code, message) of a task whose runner says it is done.

    Exit codes follow the shell's convention (128 + signal for a task ended by a signal).
    """
    if state.error:
        return TaskState.FAILED, None, state.error
    returncode = state.returncode if state.returncode is not None else -1
    if returncode >= 0:
        exit_code, how = returncode, f"exited with code {returncode}"
    else:
        exit_code, how = 128 - returncode, f"terminated by signal {-returncode}"
    if state.kill_requested:
        return TaskState.KILLED, exit_code, f"killed on request ({how})"
    if returncode == 0:
        return TaskState.FINISHED, exit_code, how
    return TaskState.FAILED, exit_code, how


@dataclass(eq=False)
class _RayTask:
    task_id: str
    agent_id: str
    needs: Resources
    actor: Any
    #: resolves once the command has started; None once RUNNING was reported
    started_ref: Any
    #: resolves once the command has ended
    wait_ref: Any
    kill_requested: bool = False


class RayBackend:
    """Runs tasks as actors on the Ray cluster at ``address`` (``HOST:PORT`` of the GCS).

    ``kill_tasks_on_close`` decides what ``close`` does with tasks still running: by default
    they are left running, because their actors are detached precisely so that a restarted
    scheduler can adopt them (``recover``); ``close(kill_tasks=True)`` stops them all.
    """

    name: str = "ray"

    def __init__(
        self,
        address: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        kill_grace_s: float = DEFAULT_KILL_GRACE_S,
        kill_tasks_on_close: bool = False,
    ) -> None:
        if not address:
            raise ValueError("the Ray backend needs the GCS address (HOST:PORT) of a Ray cluster")
        if kill_grace_s < 0:
            raise ValueError(f"kill_grace_s must not be negative, got {kill_grace_s}")
        try:
            import ray  # noqa: F401  (Ray is an optional extra: say so now, not at the first poll)
        except ImportError as exc:
            raise ValueError(f"the ray backend needs Ray: pip install 'scale-python[ray]' ({exc})") from exc
        self._address = address
        self._namespace = namespace
        self._clock: Clock = clock or SystemClock()
        self._kill_grace_s = kill_grace_s
        self._kill_tasks_on_close = kill_tasks_on_close
        self._framework_id = f"{namespace}-ray-{secrets.token_hex(4)}"
        self._lock = threading.RLock()
        self._connected = False
        self._we_initialized = False
        self._closed = False
        self._runner: Any = None
        self._agents: dict[str, Agent] = {}
        self._tasks: dict[str, _RayTask] = {}
        self._offers = OfferBook()
        self._finals = FinalUpdates()
        self._to_reconcile: list[str] = []
        self._pending: list[BackendEvent] = []
        #: (monotonic time, agent id, resources) of our tasks that ended recently
        self._released: list[tuple[float, str, Resources]] = []

    # -- the Backend protocol -------------------------------------------------------------------

    def register(self) -> Registration:
        """Connect to the cluster; answer our framework id and the GCS host and port."""
        with self._lock:
            self._connect()
            import ray

            gcs = ray.get_runtime_context().gcs_address or self._address
            host, _, port = gcs.rpartition(":")
            return Registration(
                framework_id=self._framework_id,
                master_hostname=host or gcs,
                master_port=int(port) if port.isdigit() else None,
            )

    def poll(self) -> list[BackendEvent]:
        """Every event since the last call: agents, task updates, reconcile answers, then offers."""
        with self._lock:
            if self._closed:
                return []
            self._connect()
            self._refresh_agents(list_nodes())
            self._collect()
            self._answer_reconciles()
            self._make_offers(available_per_node())
            events = self._pending
            self._pending = []
            return events

    def launch(self, offer_ids: Sequence[str], tasks: Sequence[TaskSpec]) -> None:
        """Start one actor per task on the offers' node; a refused launch fails every task.

        The named offers are used up either way; what the tasks do not hold is offered again.
        """
        with self._lock:
            if self._closed:
                logger.warning("launch after close ignored: %s", [t.task_id for t in tasks])
                return
            offers, unknown = self._offers.take(offer_ids)
            error = check_launch(offers, unknown, tasks, needs=task_needs)
            if error is None:
                clash = [t.task_id for t in tasks if t.task_id in self._tasks]
                if clash:
                    error = "launch refused: task id(s) already running: " + ", ".join(clash)
            if error is None and offers[0].agent_id not in self._agents:
                error = f"launch refused: node {offers[0].agent_id} is gone"
            for spec in tasks:
                if error is not None:
                    self._fail(spec.task_id, spec.agent_id, error)
                else:
                    self._start(spec)

    def decline(self, offer_ids: Sequence[str]) -> None:
        """Return offers; their capacity is offered again on the next poll. Unknown ids are ignored."""
        with self._lock:
            self._offers.take(offer_ids)

    def kill(self, task_id: str) -> None:
        """Stop a task; KILLED is reported once it has ended.

        A task whose command has not started yet is stopped at once by killing its actor. An
        ended task gets its final update again; an unknown task gets LOST.
        """
        with self._lock:
            if self._closed:
                return
            task = self._tasks.get(task_id)
            if task is None:
                self._pending.append(TaskStatus(self._final_or_lost(task_id)))
                return
            if task.kill_requested:
                return
            task.kill_requested = True
            if task.started_ref is not None:
                self._kill_actor(task.actor)
                self._end(task, TaskState.KILLED, None, "killed on request before it started")
                return
            task.actor.kill.remote(self._kill_grace_s)

    def reconcile(self, task_ids: Sequence[str]) -> None:
        """Queue one update per id with the task's true state for the next poll."""
        with self._lock:
            self._to_reconcile.extend(task_ids)

    def agent_totals(self) -> dict[str, Resources]:
        with self._lock:
            return {agent_id: agent.total for agent_id, agent in self._agents.items()}

    def recover(self) -> list[TaskUpdate]:
        """Adopt the tasks an earlier scheduler of ours left running on this cluster.

        Lists the named actors of our namespace and asks each for its task's state: one update
        per task, RUNNING while it runs, FINISHED/FAILED/KILLED with its exit code when it ended
        while no scheduler watched. Running tasks are then tracked exactly as if we had launched
        them; actors of ended tasks are killed, which frees their resources.
        """
        import ray

        with self._lock:
            self._connect()
            self._refresh_agents(list_nodes())
            names = [
                entry["name"]
                for entry in ray.util.list_named_actors(all_namespaces=True)
                if entry["namespace"] == self._namespace and entry["name"] not in self._tasks
            ]
            actors: dict[str, Any] = {}
            for name in names:
                with contextlib.suppress(ValueError):
                    actors[name] = ray.get_actor(name, namespace=self._namespace)
            refs = {name: actor.info.remote() for name, actor in actors.items()}
            ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=RECOVER_TIMEOUT_S)
            ready_set = set(ready)
            updates: list[TaskUpdate] = []
            for name, ref in refs.items():
                actor = actors[name]
                if ref not in ready_set:
                    logger.warning("actor %s did not answer within %ss; not adopted", name, RECOVER_TIMEOUT_S)
                    continue
                try:
                    state: RunnerState = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    logger.warning("actor %s is dead, not adopted: %s", name, exc)
                    self._kill_actor(actor)
                    continue
                updates.append(self._adopt(actor, state))
            return updates

    def close(self, *, kill_tasks: bool | None = None) -> None:
        """Stop watching the cluster and disconnect. Idempotent.

        Tasks keep running (for a later ``recover``) unless ``kill_tasks`` (default: the
        constructor's ``kill_tasks_on_close``) says to stop them; then each is killed and
        waited for, so no task process is left behind.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            kill = self._kill_tasks_on_close if kill_tasks is None else kill_tasks
            tasks = list(self._tasks.values())
            self._tasks.clear()
            self._offers.clear()
            self._pending = []
            self._to_reconcile = []
            if kill and self._connected:
                self._stop_all(tasks)
            if self._we_initialized:
                import ray

                ray.shutdown()
            self._connected = False

    def detach(self) -> None:
        """Close, leaving every task running for a later scheduler to ``recover``."""
        self.close(kill_tasks=False)

    # -- extras ----------------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self._namespace

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals (called with the lock held) --------------------------------------------------

    def _connect(self) -> None:
        """Join the cluster as a driver in our namespace, unless this process already has."""
        if self._connected:
            return
        import ray

        if not ray.is_initialized():
            # ray.init replaces the SIGTERM handler with one that exits at once; the process
            # that embeds us (``scale scheduler``) has its own, which stops the loops cleanly.
            on_sigterm = signal.getsignal(signal.SIGTERM)
            ray.init(
                address=self._address,
                namespace=self._namespace,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
            if threading.current_thread() is threading.main_thread() and on_sigterm is not None:
                signal.signal(signal.SIGTERM, on_sigterm)
            self._we_initialized = True
        # Already connected (tests, or an embedding program): every call below names our
        # namespace explicitly, so the process's own namespace does not matter.
        self._runner = ray.remote(TaskRunner)
        self._connected = True

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

    def _fail(self, task_id: str, agent_id: str, message: str) -> None:
        update = self._update(task_id, agent_id, TaskState.FAILED, None, message)
        self._pending.append(TaskStatus(update))
        if task_id not in self._tasks:
            self._finals.remember(update)

    def _final_or_lost(self, task_id: str) -> TaskUpdate:
        final = self._finals.get(task_id)
        if final is not None:
            return final
        return self._update(task_id, "", TaskState.LOST, None, "unknown task")

    def _refresh_agents(self, nodes: list[RayNode]) -> None:
        """Announce nodes that came up; report lost the ones no longer alive, and their tasks."""
        alive = {node.node_id: node for node in nodes if node.alive}
        for node_id in [a for a in self._agents if a not in alive]:
            del self._agents[node_id]
            for offer in self._offers.drop_agent(node_id):
                self._pending.append(OfferRescinded(offer.offer_id))
            self._pending.append(AgentLost(node_id))
            for task in [t for t in self._tasks.values() if t.agent_id == node_id]:
                self._kill_actor(task.actor)
                self._end(task, TaskState.LOST, None, f"node {node_id} lost")
        for node_id, node in alive.items():
            if node_id not in self._agents:
                agent = Agent(agent_id=node_id, hostname=node.hostname, total=node.total)
                self._agents[node_id] = agent
                self._pending.append(AgentUp(agent))

    def _start(self, spec: TaskSpec) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        import ray

        needs = task_needs(spec)
        runner_spec = RunnerSpec(
            task_id=spec.task_id,
            agent_id=spec.agent_id,
            command=spec.command,
            env=dict(spec.env),
            workdir=spec.workdir,
            stdout_path=spec.stdout_path,
            stderr_path=spec.stderr_path,
            resources=(needs.cpus, needs.mem, needs.disk, needs.gpus),
            kill_grace_s=self._kill_grace_s,
        )
        try:
            actor = self._runner.options(
                name=spec.task_id,
                namespace=self._namespace,
                lifetime="detached",
                max_restarts=0,
                max_concurrency=_ACTOR_CONCURRENCY,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=spec.agent_id, soft=False),
                **actor_resources(needs),
            ).remote(runner_spec)
            started_ref = actor.info.remote()
            wait_ref = actor.wait.remote()
        except (ValueError, TypeError, ray.exceptions.RayError) as exc:
            self._fail(spec.task_id, spec.agent_id, f"could not create the task's actor: {exc}")
            return
        self._finals.forget(spec.task_id)
        self._tasks[spec.task_id] = _RayTask(
            task_id=spec.task_id,
            agent_id=spec.agent_id,
            needs=needs,
            actor=actor,
            started_ref=started_ref,
            wait_ref=wait_ref,
        )

    def _collect(self) -> None:
        """Report tasks that started and tasks that ended since the last poll."""
        import ray

        refs = [t.started_ref for t in self._tasks.values() if t.started_ref is not None]
        refs += [t.wait_ref for t in self._tasks.values()]
        if not refs:
            return
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=True)
        done = set(ready)
        for task in list(self._tasks.values()):
            # A quick task may have started and ended since the last poll: RUNNING still
            # comes first, so the scheduler knows it started.
            if task.started_ref is not None and task.started_ref in done:
                started_ref, task.started_ref = task.started_ref, None
                self._report_started(task, started_ref)
            if task.wait_ref in done:
                self._collect_end(task)

    def _report_started(self, task: _RayTask, started_ref: Any) -> None:
        import ray

        try:
            state: RunnerState = ray.get(started_ref)
        except ray.exceptions.RayError:
            return  # the wait reference will tell how it ended
        if state.error:
            return
        message = f"pid {state.pid} on node {state.node_id}"
        if state.gpus:
            message += f", GPUs {','.join(state.gpus)}"
        update = self._update(task.task_id, task.agent_id, TaskState.RUNNING, None, message)
        self._pending.append(TaskStatus(update))

    def _collect_end(self, task: _RayTask) -> None:
        import ray

        try:
            state: RunnerState = ray.get(task.wait_ref)
        except ray.exceptions.RayError as exc:
            self._kill_actor(task.actor)
            if task.kill_requested:
                self._end(task, TaskState.KILLED, None, "killed on request")
            else:
                self._end(task, TaskState.LOST, None, f"the task's actor died: {type(exc).__name__}")
            return
        self._kill_actor(task.actor)
        state_, exit_code, message = describe_end(state)
        if task.kill_requested and state_ != TaskState.KILLED:
            state_, message = TaskState.KILLED, f"killed on request ({message})"
        self._end(task, state_, exit_code, message)

    def _end(self, task: _RayTask, state: TaskState, exit_code: int | None, message: str) -> None:
        self._tasks.pop(task.task_id, None)
        self._released.append((self._clock.monotonic(), task.agent_id, task.needs))
        update = self._update(task.task_id, task.agent_id, state, exit_code, message)
        self._pending.append(TaskStatus(update))
        self._finals.remember(update)

    def _kill_actor(self, actor: Any) -> None:
        import ray

        try:
            ray.kill(actor, no_restart=True)
        except (ValueError, ray.exceptions.RayError) as exc:
            logger.debug("ray.kill failed (already gone?): %s", exc)

    def _adopt(self, actor: Any, state: RunnerState) -> TaskUpdate:
        spec = state.spec
        task_id = spec.task_id
        agent_id = state.node_id
        if state.done:
            self._kill_actor(actor)
            end, exit_code, message = describe_end(state)
            update = self._update(task_id, agent_id, end, exit_code, f"recovered: {message}")
            self._finals.remember(update)
            return update
        if agent_id not in self._agents:
            self._kill_actor(actor)
            update = self._update(task_id, agent_id, TaskState.LOST, None, f"recovered: node {agent_id} lost")
            self._finals.remember(update)
            return update
        cpus, mem, disk, gpus = spec.resources
        self._tasks[task_id] = _RayTask(
            task_id=task_id,
            agent_id=agent_id,
            needs=Resources(cpus, mem, disk, gpus),
            actor=actor,
            started_ref=None,
            wait_ref=actor.wait.remote(),
            kill_requested=state.kill_requested,
        )
        self._finals.forget(task_id)
        return self._update(task_id, agent_id, TaskState.RUNNING, None, f"recovered: pid {state.pid}")

    def _answer_reconciles(self) -> None:
        for task_id in self._to_reconcile:
            task = self._tasks.get(task_id)
            if task is None:
                update = self._final_or_lost(task_id)
            elif task.started_ref is None:
                update = self._update(task_id, task.agent_id, TaskState.RUNNING, None, "reconciled")
            else:
                update = self._update(task_id, task.agent_id, TaskState.STAGING, None, "reconciled: starting")
            self._pending.append(TaskStatus(update))
        self._to_reconcile = []

    def _make_offers(self, available: dict[str, Resources]) -> None:
        """Offer each node's headroom: min(Ray's available, total − ours) − outstanding offers.

        Ray's available view lags our launches and kills by a moment; the minimum with our own
        bookkeeping keeps us from offering what a task just launched is about to take, and what
        our tasks released in the last ``RELEASE_CREDIT_S`` counts as available already, so the
        next task of an execution need not wait for Ray's view to catch up. (Should Ray still
        hold it, the next actor waits for it on its node; nothing is lost.) When someone else
        took capacity we had offered, our offers of that node are rescinded.
        """
        ours: dict[str, list[Resources]] = {}
        for task in self._tasks.values():
            ours.setdefault(task.agent_id, []).append(task.needs)
        cutoff = self._clock.monotonic() - RELEASE_CREDIT_S
        self._released = [entry for entry in self._released if entry[0] >= cutoff]
        credit: dict[str, list[Resources]] = {}
        for _, agent_id, needs in self._released:
            credit.setdefault(agent_id, []).append(needs)
        now = self._clock.now()
        for agent_id, agent in self._agents.items():
            avail = available.get(agent_id)
            if avail is None:
                continue
            mine = sum_resources(ours.get(agent_id, []))
            released = sum_resources(credit.get(agent_id, []))
            headroom = (avail + released).min_with(agent.total - mine).clamp_non_negative()
            outstanding = self._offers.outstanding(agent_id)
            if not outstanding.fits_in(headroom + _OVERCOMMIT_SLACK):
                for offer in self._offers.drop_agent(agent_id):
                    self._pending.append(OfferRescinded(offer.offer_id))
                outstanding = ZERO
            free = (headroom - outstanding).clamp_non_negative().rounded(_RAY_DIGITS)
            if not is_dust(free):
                offer = self._offers.create(agent_id, agent.hostname, free, now)
                self._pending.append(NewOffer(offer))

    def _stop_all(self, tasks: list[_RayTask]) -> None:
        """Kill every task and wait for it to end, then kill its actor (``close(kill_tasks=True)``)."""
        import ray

        refs = [t.actor.kill.remote(self._kill_grace_s) for t in tasks if t.started_ref is None]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=self._kill_grace_s + 15.0)
        for task in tasks:
            self._kill_actor(task.actor)
