"""Job execution logs: the task output files the local backend writes, read back for the API.

An execution's working directory is ``<data_dir>/executions/<node hostname>/<cluster_id>/`` and
each task writes ``logs/<task>.stdout`` and ``logs/<task>.stderr`` there (``scheduler/core.py``).
Every path component comes from the database; each is still checked so that no value can leave
the executions directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scale.exceptions import NotFound
from scale.store.db import Database
from scale.store.tables import JobExecutionRow, NodeRow

TASKS: tuple[str, ...] = ("pre", "main", "post")
STREAMS: dict[str, tuple[str, ...]] = {
    "stdout": ("stdout",),
    "stderr": ("stderr",),
    "combined": ("stdout", "stderr"),
}
#: Most bytes one response holds; longer output keeps its tail.
MAX_LOG_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExecutionLocation:
    hostname: str
    cluster_id: str


def _safe_component(value: str) -> bool:
    return bool(value) and value not in {".", ".."} and not any(c in value for c in "/\\\x00")


def _location(db: Database, exe_id: int) -> ExecutionLocation:
    with db.read() as session:
        exe = session.get(JobExecutionRow, exe_id)
        if exe is None:
            raise NotFound(f"job execution {exe_id} does not exist")
        node = session.get(NodeRow, exe.node_id)
        hostname = node.hostname if node is not None else ""
        return ExecutionLocation(hostname=hostname, cluster_id=exe.cluster_id)


def _log_dir(data_dir: Path, location: ExecutionLocation) -> Path | None:
    """The execution's ``logs`` directory, or None when a component could leave the data directory."""
    if not (_safe_component(location.hostname) and _safe_component(location.cluster_id)):
        return None
    root = (data_dir / "executions").resolve()
    logs = (root / location.hostname / location.cluster_id / "logs").resolve()
    if not logs.is_relative_to(root):
        return None
    return logs


def _tail(path: Path, limit: int) -> tuple[bytes, int]:
    """The last ``limit`` bytes of ``path`` and the file's size."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - limit))
        return handle.read(limit), size


def read_logs(db: Database, data_dir: Path, exe_id: int, stream: str) -> str:
    """The output of execution ``exe_id``: tasks pre, main, post, each section headed
    ``=== <task> <stream> ===``; ``combined`` gives each task's stdout then its stderr.

    NotFound for an unknown execution or stream, or when no log file is stored for it. Output
    over :data:`MAX_LOG_BYTES` keeps its tail after a first line saying it was truncated.
    """
    streams = STREAMS.get(stream)
    if streams is None:
        raise NotFound(f"log stream {stream!r} does not exist; use one of {', '.join(STREAMS)}")
    location = _location(db, exe_id)
    logs = _log_dir(data_dir, location)
    parts: list[bytes] = []
    total = 0
    found = False
    for task in TASKS:
        for name in streams:
            path = logs / f"{task}.{name}" if logs is not None else None
            if path is None or not path.is_file():
                continue
            found = True
            data, size = _tail(path, MAX_LOG_BYTES)
            header = f"=== {task} {name} ===\n".encode()
            if data and not data.endswith(b"\n"):
                data += b"\n"
            parts += [header, data]
            total += len(header) + size + (len(data) - min(size, MAX_LOG_BYTES))
    if not found:
        raise NotFound(f"job execution {exe_id}: no logs are stored for it")
    content = b"".join(parts)
    if total > MAX_LOG_BYTES:
        kept = content[-MAX_LOG_BYTES:]
        notice = f"=== truncated: showing the last part of {total} bytes ===\n".encode()
        content = notice + kept[len(notice) :]
    return content.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of output, with the fields Scale's log records had (it kept them in Elasticsearch):
    ``timestamp`` is when the task last wrote to that stream (the file's modification time: the
    files hold no time per line), ``order_num`` the line's place in the whole output."""

    message: str
    timestamp: datetime
    order_num: int
    task: str
    stream: str
    cluster_id: str
    hostname: str


def read_log_entries(
    db: Database,
    data_dir: Path,
    exe_id: int,
    stream: str,
    *,
    started: datetime | None = None,
    ended: datetime | None = None,
) -> list[LogEntry] | None:
    """The output of execution ``exe_id`` as lines in task order (pre, main, post; each task's
    stdout before its stderr for ``combined``), limited to lines whose timestamp is within
    ``started``..``ended``. None when no log file is stored for it yet; NotFound for an unknown
    execution or stream. Each file contributes at most its last :data:`MAX_LOG_BYTES`."""
    streams = STREAMS.get(stream)
    if streams is None:
        raise NotFound(f"log stream {stream!r} does not exist; use one of {', '.join(STREAMS)}")
    location = _location(db, exe_id)
    logs = _log_dir(data_dir, location)
    if logs is None:
        return None
    entries: list[LogEntry] = []
    found = False
    order = 0
    for task in TASKS:
        for name in streams:
            path = logs / f"{task}.{name}"
            if not path.is_file():
                continue
            found = True
            data, _ = _tail(path, MAX_LOG_BYTES)
            when = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            for line in data.decode("utf-8", errors="replace").splitlines(keepends=True):
                order += 1
                if (started is None or when >= started) and (ended is None or when <= ended):
                    entries.append(
                        LogEntry(line, when, order, task, name, location.cluster_id, location.hostname)
                    )
    return entries if found else None
