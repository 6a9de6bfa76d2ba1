"""The task supervisor: a tiny parent for one task that outlives the scheduler.

The local backend does not start a task's shell itself; it starts this script, which starts the
shell in a new session (so the task leads its own process group), writes the shell's pid, waits,
kills whatever is left in the task's group, and writes the exit status. Both files are written
atomically (temporary file, then rename) into the task's state directory.

Why: a scheduler that is killed (SIGKILL, OOM, a crash) must not take running work with it,
and the next scheduler must learn how each task ended while nobody watched. This is the role a
container shim plays for a container engine: the supervisor is in a session of its own, so a
signal to the scheduler's process group never reaches it, and its ``exit`` file survives it.

It imports only the standard library and is run as a script (``python -I supervise.py``) so
that it starts in a few tens of milliseconds.

State directory files:
  ``spid``  the supervisor's pid (for a new scheduler to check it is alive)
  ``pid``   the task's pid, which is also its process group id
  ``exit``  the task's return code as ``subprocess.Popen.returncode`` gives it (-N: signal N)
  ``error`` why the task could not be started, when it could not
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

#: Return code written when the command could not be started at all (the shell's convention).
CANNOT_START = 127


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that a reader sees either nothing or all of it."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def supervise(state_dir: Path, argv: list[str]) -> int:
    """Run ``argv`` as the task and record how it ended. Returns the task's return code."""
    write_atomic(state_dir / "spid", f"{os.getpid()}\n")
    try:
        child = subprocess.Popen(argv, start_new_session=True)
    except OSError as exc:
        write_atomic(state_dir / "error", f"{exc}\n")
        write_atomic(state_dir / "exit", f"{CANNOT_START}\n")
        return CANNOT_START
    write_atomic(state_dir / "pid", f"{child.pid}\n")

    def forward(signum: int, _frame: object) -> None:
        _signal_group(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Wait without reaping: while the leader is an unreaped zombie its pid cannot be reused, so
    # the group id still names this task's group and stragglers can be killed safely.
    while True:
        try:
            os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
            break
        except ChildProcessError:
            break
    _signal_group(child.pid, signal.SIGKILL)
    returncode = child.wait()
    write_atomic(state_dir / "exit", f"{returncode}\n")
    return returncode


def main() -> None:
    if len(sys.argv) < 3:
        print("usage: supervise.py STATE_DIR COMMAND [ARG ...]", file=sys.stderr)
        sys.exit(2)
    supervise(Path(sys.argv[1]), sys.argv[2:])


if __name__ == "__main__":
    main()
