"""The local backend: this host (or N virtual slices of it) runs tasks as real subprocesses.

This is the default backend (DESIGN §4) and what ``scale up`` uses. It keeps the Mesos shape of
the contract so the scheduler cannot tell it from a cluster: each slice is an agent, free
capacity is offered, tasks are launched against offers and report status updates.

Process model: a task is ``/bin/sh -c <command>`` in a new session, so it leads its own process
group and everything it spawns can be signalled at once with ``os.killpg``. When the task's
shell ends, anything left in its group is SIGKILLed: a task's processes must not outlive the
resources the scheduler thinks it holds. All waiting is non-blocking and happens in ``poll``
(kill escalation included), except in ``close``, which must leave no child behind.

Each task runs under a small supervisor (``supervise.py``) that outlives this process: it
writes the task's pid and, when the task ends, its exit status into the task's state directory
(``<data_dir>/supervise/<task>/``). So a scheduler killed with work in flight loses nothing: the
next backend on the same data directory finds those directories in ``recover`` and adopts the
tasks still running, and reports how the others ended.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from scale.backends.hostinfo import HostTotals, detect_host_totals
from scale.backends.offers import (
    FinalUpdates,
    OfferBook,
    check_launch,
    free_to_offer,
    new_framework_id,
    sum_resources,
)
from scale.backends.task_env import task_environment
from scale.clock import SystemClock
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import (
    Agent,
    AgentUp,
    BackendEvent,
    NewOffer,
    Registration,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from scale.scheduler.ports import Clock

logger = logging.getLogger(__name__)

#: How long ``close`` lets tasks react to SIGTERM before it SIGKILLs them.
CLOSE_GRACE_S = 2.0
#: The variable that tells CUDA programs which GPUs are theirs.
GPU_ENV_VAR = "CUDA_VISIBLE_DEVICES"
_SHELL = "/bin/sh"
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class NodeShare:
    """One virtual node's slice of the host: what it has, what it may offer, which GPUs."""

    hostname: str
    total: Resources
    offerable: Resources
    gpus: tuple[int, ...]


def split_host(host: HostTotals, num_nodes: int, hostname: str) -> list[NodeShare]:
    """Split the host evenly into ``num_nodes`` nodes.

    cpus, memory and disk are divided and rounded to 2 decimals; GPU indices are dealt round
    robin (node i gets ``gpus[i::N]``) because a GPU cannot be split. Each node may offer its
    total less its share of the memory and disk other processes used at start, so offered plus
    running never exceeds what is really there and the rest shows as unavailable.
    """
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be at least 1, got {num_nodes}")
    shares: list[NodeShare] = []
    for index in range(num_nodes):
        gpus = host.gpus[index::num_nodes]
        total = Resources(
            cpus=round(host.cpus / num_nodes, 2),
            mem=round(host.mem_mib / num_nodes, 2),
            disk=round(host.disk_mib / num_nodes, 2),
            gpus=float(len(gpus)),
        )
        used_by_others = Resources(
            mem=host.mem_used_by_others_mib / num_nodes, disk=host.disk_used_by_others_mib / num_nodes
        )
        offerable = (total - used_by_others).clamp_non_negative().rounded(2).min_with(total)
        name = hostname if num_nodes == 1 else f"{hostname}-{index + 1}"
        shares.append(NodeShare(hostname=name, total=total, offerable=offerable, gpus=gpus))
    return shares


def task_needs(spec: TaskSpec) -> Resources:
    """What a task holds on its node: its request, with GPUs rounded up to whole devices."""
    if spec.resources.gpus <= 0:
        return spec.resources
    whole = float(math.ceil(spec.resources.gpus - 1e-9))
    r = spec.resources
    return Resources(r.cpus, r.mem, r.disk, whole)


def describe_exit(returncode: int) -> tuple[int, str]:
    """Map a ``Popen.returncode`` to (exit code, message) with the shell's 128+signal convention."""
    if returncode >= 0:
        return returncode, f"exited with code {returncode}"
    signum = -returncode
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return 128 + signum, f"terminated by {name} ({signum})"


@dataclass(eq=False)
class _Node:
    agent: Agent
    offerable: Resources
    gpus: tuple[int, ...]
    free_gpus: list[int]
    task_ids: set[str] = field(default_factory=set)


_SUPERVISOR = str(Path(__file__).with_name("supervise.py"))


#: How much of a failed task's stderr is read for its last line, and the most of it kept.
_TAIL_BYTES = 4096
_TAIL_CHARS = 500


def last_words(state_dir: Path, spec: TaskSpec) -> str:
    """Why a task failed, in one line: the supervisor's ``error`` (the task could not even be
    started: the OS error) or else the last non-empty line the task wrote to its stderr file.
    Read before the state directory goes; "" when there is neither."""
    with contextlib.suppress(OSError):
        error = (state_dir / "error").read_text(errors="replace").strip()
        if error:
            return error.splitlines()[-1][:_TAIL_CHARS]
    if not spec.stderr_path:
        return ""
    try:
        with open(spec.stderr_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _TAIL_BYTES))
            tail = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:_TAIL_CHARS] if lines else ""


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie (an orphan nobody reaped still has a pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


@dataclass(eq=False)
class _LocalTask:
    """A task under its supervisor. ``supervisor`` is None for a task adopted in ``recover``."""

    spec: TaskSpec
    node: _Node
    needs: Resources
    gpus: tuple[int, ...]
    state_dir: Path
    supervisor: subprocess.Popen[bytes] | None
    supervisor_pid: int | None = None
    pgid: int | None = None
    kill_sent_at: float | None = None
    sigterm_sent: bool = False
    sigkill_sent: bool = False

    def group(self) -> int | None:
        """The task's process group id, once the supervisor has written it."""
        if self.pgid is None:
            self.pgid = _read_int(self.state_dir / "pid")
        return self.pgid

    def returncode(self) -> int | None:
        """The task's return code once it has ended; ``-SIGKILL`` when its supervisor died."""
        code = _read_int(self.state_dir / "exit")
        if code is not None:
            return code
        if self._supervisor_gone():
            code = _read_int(self.state_dir / "exit")  # it may have written it just before exiting
            if code is not None:
                return code
            pgid = self.group()
            if pgid is not None:
                _signal_group(pgid, signal.SIGKILL)
            return -int(signal.SIGKILL)
        return None

    def _supervisor_gone(self) -> bool:
        if self.supervisor is not None:
            return self.supervisor.poll() is not None
        if self.supervisor_pid is None:
            self.supervisor_pid = _read_int(self.state_dir / "spid")
        return self.supervisor_pid is None or not _pid_alive(self.supervisor_pid)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    """Signal a whole process group; a group that is already gone is not an error."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        logger.warning("not allowed to send %s to process group %s", signum.name, pgid)


class LocalBackend:
    """Runs tasks as subprocesses of this scheduler on this host, split into ``num_nodes`` nodes.

    ``host`` overrides detection (tests declare GPUs this way); ``hostname`` overrides
    ``socket.gethostname()``. Agent ids are ``local-<hostname>-<i>``. A task that was killed is
    sent SIGTERM (its whole process group), then SIGKILL once ``kill_grace_s`` has passed on the
    injected clock, checked on each ``poll``.
    """

    name: str = "local"

    def __init__(
        self,
        data_dir: Path,
        *,
        num_nodes: int = 1,
        clock: Clock | None = None,
        hostname: str | None = None,
        host: HostTotals | None = None,
        kill_grace_s: float = 10.0,
    ) -> None:
        if num_nodes < 1:
            raise ValueError(f"num_nodes must be at least 1, got {num_nodes}")
        if kill_grace_s < 0:
            raise ValueError(f"kill_grace_s must not be negative, got {kill_grace_s}")
        # Absolute: the supervisor and the task run in other working directories.
        self._data_dir = Path(data_dir).resolve()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._clock: Clock = clock or SystemClock()
        self._hostname = hostname or socket.gethostname()
        self._host = host or detect_host_totals(self._data_dir)
        self._kill_grace_s = kill_grace_s
        self._framework_id = new_framework_id(self.name)
        self._lock = threading.Lock()
        self._closed = False
        self._nodes: dict[str, _Node] = {}
        for index, share in enumerate(split_host(self._host, num_nodes, self._hostname), start=1):
            agent = Agent(
                agent_id=f"local-{self._hostname}-{index}", hostname=share.hostname, total=share.total
            )
            self._nodes[agent.agent_id] = _Node(
                agent=agent, offerable=share.offerable, gpus=share.gpus, free_gpus=list(share.gpus)
            )
        self._tasks: dict[str, _LocalTask] = {}
        self._offers = OfferBook()
        self._finals = FinalUpdates()
        self._to_reconcile: list[str] = []
        #: supervisors of ended tasks, polled until they have exited (so none is left a zombie)
        self._exiting: list[subprocess.Popen[bytes]] = []
        # Agents are announced first on the first poll; later events follow in the order they happened.
        self._pending: list[BackendEvent] = [AgentUp(node.agent) for node in self._nodes.values()]

    # -- the Backend protocol -------------------------------------------------------------------

    def register(self) -> Registration:
        return Registration(framework_id=self._framework_id, master_hostname=self._hostname, master_port=None)

    def poll(self) -> list[BackendEvent]:
        """Every event since the last call: agents, task updates, reconcile answers, then new offers."""
        with self._lock:
            if self._closed:
                return []
            self._reap()
            self._answer_reconciles()
            events = self._pending
            self._pending = []
            now = self._clock.now()
            for agent_id, node in self._nodes.items():
                running = sum_resources(self._tasks[task_id].needs for task_id in node.task_ids)
                free = free_to_offer(node.offerable, running, self._offers.outstanding(agent_id))
                if free is not None:
                    offer = self._offers.create(agent_id, node.agent.hostname, free, now)
                    events.append(NewOffer(offer))
            return events

    def launch(self, offer_ids: Sequence[str], tasks: Sequence[TaskSpec]) -> None:
        """Start ``tasks`` on the offers' agent; a refused launch fails every task, never raises.

        The named offers are used up either way; capacity the tasks do not hold is offered again
        on a later poll.
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
            if error is not None:
                for spec in tasks:
                    self._fail(spec, error)
                return
            node = self._nodes[offers[0].agent_id]
            for spec in tasks:
                self._start(spec, node)

    def decline(self, offer_ids: Sequence[str]) -> None:
        """Return offers; their capacity is offered again on the next poll. Unknown ids are ignored."""
        with self._lock:
            self._offers.take(offer_ids)

    def kill(self, task_id: str) -> None:
        """SIGTERM the task's process group; KILLED is reported once it has ended.

        A task that already ended gets its final update again; an unknown task gets LOST.
        """
        with self._lock:
            if self._closed:
                return
            task = self._tasks.get(task_id)
            if task is None:
                self._pending.append(TaskStatus(self._final_or_lost(task_id)))
                return
            # A task that already exited on its own keeps its true end (reported on the next poll).
            if task.kill_sent_at is None and task.returncode() is None:
                task.kill_sent_at = self._clock.monotonic()
                self._send_term(task)
                self._remove_container(task.spec)

    def _remove_container(self, spec: TaskSpec) -> None:
        """A container task's runner kills its container on SIGTERM; remove it from here too, so
        the container goes even when the runner is stuck or SIGKILLed (``runtime/docker.py``)."""
        name = spec.env.get("SCALE_CONTAINER_NAME")
        if not spec.image or not name:
            return
        try:
            remover = subprocess.Popen(
                ["docker", "rm", "--force", "--volumes", name],
                env=task_environment(os.environ, spec.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            logger.warning("cannot remove container %s: %s", name, exc)
            return
        self._exiting.append(remover)  # reaped with the supervisors

    def reconcile(self, task_ids: Sequence[str]) -> None:
        """Queue one update per id with the task's true state for the next poll."""
        with self._lock:
            self._to_reconcile.extend(task_ids)

    def agent_totals(self) -> dict[str, Resources]:
        with self._lock:
            return {agent_id: node.agent.total for agent_id, node in self._nodes.items()}

    def recover(self) -> list[TaskUpdate]:
        """Adopt the tasks an earlier backend on this data directory left running.

        One update per task directory found: RUNNING for a task whose supervisor still runs
        (from now on it is tracked as if launched here: its end is reported by ``poll``, ``kill``
        works, its resources are not offered), FINISHED/FAILED with the exit code for one that
        ended while nobody watched, LOST for one whose supervisor died without a word or whose
        node no longer exists here (its process group is killed).
        """
        updates: list[TaskUpdate] = []
        with self._lock:
            root = self._data_dir / "supervise"
            if self._closed or not root.is_dir():
                return updates
            for state_dir in sorted(root.iterdir()):
                update = self._recover_one(state_dir)
                if update is not None:
                    updates.append(update)
        return updates

    def close(self) -> None:
        """Stop every task (SIGTERM, a short grace, SIGKILL) and wait for them all. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            tasks = list(self._tasks.values())
            self._tasks.clear()
            self._offers.clear()
            self._pending = []
            self._to_reconcile = []
            for node in self._nodes.values():
                node.task_ids.clear()
                node.free_gpus = list(node.gpus)
            # Real time, not the injected clock: a fake clock would never let the grace end.
            deadline = time.monotonic() + CLOSE_GRACE_S
            while time.monotonic() < deadline:
                for task in tasks:
                    if not task.sigterm_sent:
                        self._send_term(task)
                if all(t.returncode() is not None for t in tasks):
                    break
                time.sleep(0.02)
            for task in tasks:
                pgid = task.group()
                if task.returncode() is None and pgid is not None:
                    _signal_group(pgid, signal.SIGKILL)
            supervisors = self._exiting + [t.supervisor for t in tasks if t.supervisor is not None]
            self._exiting = []
            for supervisor in supervisors:
                try:
                    supervisor.wait(timeout=5.0)
                except subprocess.TimeoutExpired:
                    logger.error("task supervisor %s did not exit; killing it", supervisor.pid)
                    supervisor.kill()
                    supervisor.wait()
            for task in tasks:
                shutil.rmtree(task.state_dir, ignore_errors=True)

    # -- extras ----------------------------------------------------------------------------------

    def agents(self) -> list[Agent]:
        with self._lock:
            return [node.agent for node in self._nodes.values()]

    def __enter__(self) -> LocalBackend:
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
        self, spec_or_id: TaskSpec | str, agent_id: str, state: TaskState, exit_code: int | None, message: str
    ) -> TaskUpdate:
        task_id = spec_or_id if isinstance(spec_or_id, str) else spec_or_id.task_id
        return TaskUpdate(
            task_id=task_id,
            agent_id=agent_id,
            state=state,
            timestamp=self._clock.now(),
            exit_code=exit_code,
            message=message,
        )

    def _fail(self, spec: TaskSpec, message: str) -> None:
        update = self._update(spec, spec.agent_id, TaskState.FAILED, None, message)
        self._pending.append(TaskStatus(update))
        if spec.task_id not in self._tasks:
            self._finals.remember(update)

    def _final_or_lost(self, task_id: str) -> TaskUpdate:
        final = self._finals.get(task_id)
        if final is not None:
            return final
        return self._update(task_id, "", TaskState.LOST, None, "unknown task")

    def _start(self, spec: TaskSpec, node: _Node) -> None:
        needs = task_needs(spec)
        count = int(needs.gpus)
        if count > len(node.free_gpus):
            self._fail(spec, f"not enough free GPUs on {node.agent.hostname}: need {count}")
            return
        gpus = tuple(node.free_gpus[:count])
        state_dir = self._state_dir(spec.task_id)
        try:
            supervisor = self._spawn(spec, node, gpus, state_dir)
        except (OSError, ValueError) as exc:
            shutil.rmtree(state_dir, ignore_errors=True)
            self._fail(spec, f"could not start the task: {exc}")
            return
        del node.free_gpus[:count]
        node.task_ids.add(spec.task_id)
        self._tasks[spec.task_id] = _LocalTask(
            spec=spec,
            node=node,
            needs=needs,
            gpus=gpus,
            state_dir=state_dir,
            supervisor=supervisor,
            supervisor_pid=supervisor.pid,
        )
        self._finals.forget(spec.task_id)
        message = f"supervisor pid {supervisor.pid}" + (f", GPUs {','.join(map(str, gpus))}" if gpus else "")
        update = self._update(spec, node.agent.agent_id, TaskState.RUNNING, None, message)
        self._pending.append(TaskStatus(update))

    def _state_dir(self, task_id: str) -> Path:
        safe_name = _UNSAFE_PATH_CHARS.sub("_", task_id).lstrip(".") or "_"
        return self._data_dir / "supervise" / safe_name

    def _spawn(
        self, spec: TaskSpec, node: _Node, gpus: tuple[int, ...], state_dir: Path
    ) -> subprocess.Popen[bytes]:
        """Create the directories the task needs and start its supervisor in a new session."""
        safe_name = _UNSAFE_PATH_CHARS.sub("_", spec.task_id).lstrip(".") or "_"
        task_dir = self._data_dir / "tasks" / safe_name
        workdir = Path(spec.workdir) if spec.workdir else task_dir
        stdout_path = Path(spec.stdout_path) if spec.stdout_path else task_dir / "stdout.log"
        stderr_path = Path(spec.stderr_path) if spec.stderr_path else task_dir / "stderr.log"
        workdir.mkdir(parents=True, exist_ok=True)
        stdout_path.parent.mkdir(parents=True, exist_ok=True)
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(state_dir, ignore_errors=True)
        state_dir.mkdir(parents=True)
        record = {
            "task_id": spec.task_id,
            "agent_id": node.agent.agent_id,
            "resources": spec.resources.to_dict(),
            "gpus": list(gpus),
            "command": spec.command,
            "image": spec.image,
            "stderr_path": str(stderr_path),
        }
        (state_dir / "task.json").write_text(json.dumps(record))
        env = task_environment(os.environ, spec.env)
        if node.gpus:
            # Set even when empty, so a task without GPUs cannot use another task's devices.
            env[GPU_ENV_VAR] = ",".join(str(index) for index in gpus)
        with contextlib.ExitStack() as stack:
            stdout = stack.enter_context(stdout_path.open("ab"))
            stderr = stdout if stderr_path == stdout_path else stack.enter_context(stderr_path.open("ab"))
            return subprocess.Popen(
                [sys.executable, "-I", _SUPERVISOR, str(state_dir), _SHELL, "-c", spec.command],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )

    def _send_term(self, task: _LocalTask) -> None:
        """SIGTERM the task's group once its pid is known (a kill may come before that)."""
        pgid = task.group()
        if pgid is not None and not task.sigterm_sent:
            _signal_group(pgid, signal.SIGTERM)
            task.sigterm_sent = True

    def _reap(self) -> None:
        """Escalate overdue kills and turn every ended task into its final update."""
        self._exiting = [s for s in self._exiting if s.poll() is None]
        now = self._clock.monotonic()
        for task in list(self._tasks.values()):
            returncode = task.returncode()
            if returncode is not None:
                self._end(task, returncode)
                continue
            if task.kill_sent_at is None:
                continue
            if not task.sigterm_sent:
                self._send_term(task)
            elif not task.sigkill_sent and now - task.kill_sent_at >= self._kill_grace_s:
                pgid = task.group()
                if pgid is not None:
                    _signal_group(pgid, signal.SIGKILL)
                    task.sigkill_sent = True

    def _end(self, task: _LocalTask, returncode: int) -> None:
        node = task.node
        node.task_ids.discard(task.spec.task_id)
        node.free_gpus = sorted(node.free_gpus + list(task.gpus))
        del self._tasks[task.spec.task_id]
        if task.supervisor is not None and task.supervisor.poll() is None:
            self._exiting.append(task.supervisor)  # it exits right after writing the status
        update = self._ended_update(task.spec.task_id, node.agent.agent_id, returncode, task.kill_sent_at)
        if returncode != 0:
            update = replace(update, stderr_tail=last_words(task.state_dir, task.spec))
        shutil.rmtree(task.state_dir, ignore_errors=True)
        self._pending.append(TaskStatus(update))
        self._finals.remember(update)

    def _ended_update(
        self, task_id: str, agent_id: str, returncode: int, kill_sent_at: float | None
    ) -> TaskUpdate:
        exit_code, how = describe_exit(returncode)
        if kill_sent_at is not None:
            state, message = TaskState.KILLED, f"killed on request ({how})"
        elif returncode == 0:
            state, message = TaskState.FINISHED, how
        else:
            state, message = TaskState.FAILED, how
        return self._update(task_id, agent_id, state, exit_code, message)

    def _recover_one(self, state_dir: Path) -> TaskUpdate | None:
        """Adopt or settle one task directory left by an earlier backend (see ``recover``)."""
        try:
            record = json.loads((state_dir / "task.json").read_text())
            task_id = str(record["task_id"])
            agent_id = str(record["agent_id"])
            resources = Resources.from_mapping(record["resources"])
            gpus = tuple(int(g) for g in record.get("gpus", []))
        except (FileNotFoundError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable task directory %s: %s", state_dir, exc)
            shutil.rmtree(state_dir, ignore_errors=True)
            return None
        if task_id in self._tasks:
            return None
        spec = TaskSpec(
            task_id=task_id,
            agent_id=agent_id,
            resources=resources,
            command=record.get("command", ""),
            stderr_path=record.get("stderr_path"),
        )
        node = self._nodes.get(agent_id)
        task = _LocalTask(
            spec=spec,
            node=node or next(iter(self._nodes.values())),
            needs=task_needs(spec),
            gpus=gpus,
            state_dir=state_dir,
            supervisor=None,
        )
        returncode = task.returncode()
        if returncode is not None:
            update = self._ended_update(task_id, agent_id, returncode, None)
            if returncode != 0:
                update = replace(update, stderr_tail=last_words(state_dir, spec))
            shutil.rmtree(state_dir, ignore_errors=True)
            self._finals.remember(update)
            return update
        if node is None or any(g not in node.free_gpus for g in gpus):
            pgid = task.group()
            if pgid is not None:
                _signal_group(pgid, signal.SIGKILL)
            self._kill_orphan_supervisor(task)
            shutil.rmtree(state_dir, ignore_errors=True)
            update = self._update(
                task_id, agent_id, TaskState.LOST, None, "its node is not part of this backend"
            )
            self._finals.remember(update)
            return update
        node.free_gpus = [g for g in node.free_gpus if g not in gpus]
        node.task_ids.add(task_id)
        self._tasks[task_id] = task
        return self._update(task_id, agent_id, TaskState.RUNNING, None, "adopted after a restart")

    @staticmethod
    def _kill_orphan_supervisor(task: _LocalTask) -> None:
        spid = _read_int(task.state_dir / "spid")
        if spid is not None and _pid_alive(spid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(spid, signal.SIGKILL)

    def _answer_reconciles(self) -> None:
        for task_id in self._to_reconcile:
            task = self._tasks.get(task_id)
            if task is not None:
                update = self._update(
                    task_id, task.node.agent.agent_id, TaskState.RUNNING, None, "reconciled"
                )
            else:
                update = self._final_or_lost(task_id)
            self._pending.append(TaskStatus(update))
        self._to_reconcile = []
