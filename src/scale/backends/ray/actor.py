"""The task-runner actor: one per task, pinned to its node, running the task's command.

The backend creates one named, detached ``TaskRunner`` actor per task (DESIGN §12). Its
constructor starts ``/bin/sh -c <command>`` in a new session, so the task leads its own
process group and everything it spawns can be signalled at once; stdout and stderr go to the
TaskSpec's files. The actor stays alive after the command ends, holding the exit code, until
the scheduler has read it: that is how a scheduler that restarts learns how a task ended while
no one watched. The backend then kills the actor, which frees the task's Ray resources.

Methods run on a small thread pool (the actor is created with ``max_concurrency`` > 1) so that
``wait`` can block while ``info`` and ``kill`` still answer.

A Ray worker that dies (its node lost, ``ray.kill``) cannot clean up after itself, and the
task's group is in its own session, out of Ray's reach. So each task gets a watchdog: a tiny
process, in a session of its own and not the worker's child, that waits for the worker to go
away (the end of a pipe only the worker holds) and then terminates the task's group. Nothing
a task starts outlives its actor for long.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

#: The variable that tells CUDA programs which GPUs are theirs.
GPU_ENV_VAR = "CUDA_VISIBLE_DEVICES"
#: How long ``kill`` (and the watchdog) let a task react to SIGTERM before SIGKILL.
DEFAULT_KILL_GRACE_S = 10.0
_SHELL = "/bin/sh"
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]")

# The watchdog: argv = a pipe's read end, the task's process group, grace seconds. The actor's
# worker holds the pipe's only write end, so reading it ends (EOF) exactly when the worker is
# gone, however it went. It forks once and the first process exits: a Ray worker that shuts down
# (its raylet lost, as when a node dies) kills its direct children (RAY_kill_child_processes_on_
# worker_exit), which would take the watchdog with it and leave the task's grandchildren running.
# Kept to the standard library so it starts in milliseconds.
_WATCHDOG = """
import os, signal, sys, time
fd, pgid, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
if os.fork():
    os._exit(0)
while os.read(fd, 1):
    pass
def alive():
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
if alive():
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive():
        os.killpg(pgid, signal.SIGKILL)
"""


@dataclass(frozen=True, slots=True)
class RunnerSpec:
    """What the actor needs to run one task; plain values so Ray can ship it to any node.

    ``resources`` is (cpus, mem MiB, disk MiB, gpus) as the scheduler asked, kept so a
    scheduler that adopts the task after a restart knows what it holds.
    """

    task_id: str
    agent_id: str
    command: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = ""
    stdout_path: str = ""
    stderr_path: str = ""
    resources: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    kill_grace_s: float = DEFAULT_KILL_GRACE_S


@dataclass(frozen=True, slots=True)
class RunnerState:
    """What the actor knows about its task. ``returncode`` is ``Popen``'s (negative = signal)."""

    spec: RunnerSpec
    node_id: str
    pid: int | None
    gpus: tuple[str, ...]
    done: bool
    returncode: int | None
    kill_requested: bool
    error: str = ""


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    """Signal a whole process group; one that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class TaskRunner:
    """Runs one task's command on the node Ray placed this actor on (see the module doc)."""

    def __init__(self, spec: RunnerSpec) -> None:
        import ray

        self._spec = spec
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._returncode: int | None = None
        self._kill_requested = False
        self._error = ""
        self._node_id = ray.get_runtime_context().get_node_id()
        # The GPU ids Ray assigned to this actor; empty when the task asked for none.
        self._gpus = tuple(str(g) for g in ray.get_gpu_ids())
        self._process: subprocess.Popen[bytes] | None = None
        # The write end of the watchdog's pipe: held, never written, until this worker exits.
        self._watchdog_fd: int | None = None
        try:
            self._process = self._spawn()
        except (OSError, ValueError) as exc:
            self._error = f"could not start the task: {exc}"
            self._done.set()
            return
        self._start_watchdog(self._process.pid)
        threading.Thread(target=self._watch, name=f"watch-{spec.task_id}", daemon=True).start()

    # -- methods the backend calls --------------------------------------------------------------

    def info(self) -> RunnerState:
        """The task's state now, without waiting."""
        with self._lock:
            return self._state()

    def wait(self) -> RunnerState:
        """Block until the task has ended (its stragglers killed and reaped), then answer ``info``."""
        self._done.wait()
        return self.info()

    def kill(self, grace_s: float | None = None) -> RunnerState:
        """SIGTERM the task's group, SIGKILL it after the grace; return once the task has ended."""
        grace = self._spec.kill_grace_s if grace_s is None else grace_s
        with self._lock:
            if self._done.is_set() or self._process is None:
                return self._state()
            self._kill_requested = True
            pgid = self._process.pid
        _signal_group(pgid, signal.SIGTERM)
        if not self._done.wait(grace):
            _signal_group(pgid, signal.SIGKILL)
            self._done.wait(10.0)
        return self.info()

    # -- internals ------------------------------------------------------------------------------

    def _state(self) -> RunnerState:
        """``info`` without the lock (the caller holds it)."""
        return RunnerState(
            spec=self._spec,
            node_id=self._node_id,
            pid=self._process.pid if self._process is not None else None,
            gpus=self._gpus,
            done=self._done.is_set(),
            returncode=self._returncode,
            kill_requested=self._kill_requested,
            error=self._error,
        )

    def _start_watchdog(self, pgid: int) -> None:
        """Start the task's watchdog (see ``_WATCHDOG``). A failure leaves the task running; only
        the clean-up on the worker's death is lost."""
        read_fd, write_fd = os.pipe()
        try:
            launcher = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(read_fd), str(pgid), str(self._spec.kill_grace_s)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(read_fd,),
                start_new_session=True,
            )
            launcher.wait(timeout=30)  # it forks the watchdog and exits at once
        except (OSError, subprocess.TimeoutExpired):
            os.close(write_fd)
        else:
            self._watchdog_fd = write_fd
        finally:
            os.close(read_fd)

    def _spawn(self) -> subprocess.Popen[bytes]:
        from scale.backends.task_env import task_environment  # on the Ray node, where Scale is installed

        spec = self._spec
        safe_name = _UNSAFE_PATH_CHARS.sub("_", spec.task_id).lstrip(".") or "_"
        task_dir = Path(tempfile.gettempdir()) / "scale-ray-tasks" / safe_name
        workdir = Path(spec.workdir) if spec.workdir else task_dir
        stdout_path = Path(spec.stdout_path) if spec.stdout_path else task_dir / "stdout.log"
        stderr_path = Path(spec.stderr_path) if spec.stderr_path else task_dir / "stderr.log"
        for directory in (workdir, stdout_path.parent, stderr_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        # Set even when empty, so a task without GPUs cannot use another task's devices.
        env = {**task_environment(os.environ, spec.env), GPU_ENV_VAR: ",".join(self._gpus)}
        with contextlib.ExitStack() as stack:
            stdout = stack.enter_context(stdout_path.open("ab"))
            stderr = stdout if stderr_path == stdout_path else stack.enter_context(stderr_path.open("ab"))
            return subprocess.Popen(
                [_SHELL, "-c", spec.command],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )

    def _watch(self) -> None:
        """Wait for the task's shell; kill what is left in its group before reaping it.

        While the leader is an unreaped zombie its pid cannot be reused, so its group id still
        names our task's group and the stragglers can be signalled safely.
        """
        process = self._process
        assert process is not None
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        _signal_group(process.pid, signal.SIGKILL)
        # The watchdog has nothing left to guard: release it (EOF) while the group id is still ours.
        if self._watchdog_fd is not None:
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        returncode = process.wait()
        with self._lock:
            self._returncode = returncode
        self._done.set()
