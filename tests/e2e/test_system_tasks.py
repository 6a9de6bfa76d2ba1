"""Message handlers as system tasks on real local nodes (issue 4): follow the setting, get replaced."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.util import wait_until

pytestmark = pytest.mark.slow


def handler_pids(data_dir: Path) -> set[int]:
    """The live ``scale message-handler`` processes of this cluster (found by their environment)."""
    wanted = f"SCALE_DATA_DIR={data_dir.resolve()}".encode()
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and argv[-3:-1] == [b"scale", b"message-handler"] and wanted in environ:
            pids.add(int(entry))
    return pids


def handlers_shown(status: dict[str, Any]) -> int:
    tasks = [t for n in status["nodes"] for t in n.get("system_tasks", [])]
    return sum(t["count"] for t in tasks if t["type"] == "message-handler")


def service(status: dict[str, Any]) -> tuple[int, int]:
    (messaging,) = status["system"]["services"]
    return messaging["actual_count"], messaging["desired_count"]


def settled(c: Cluster, count: int, timeout: float) -> dict[str, Any]:
    """Wait until the status and the processes both show ``count`` handlers."""
    data = c.data_dir / "data"
    return c.wait_status(
        lambda s: (
            service(s) == (count, count) and handlers_shown(s) == count and len(handler_pids(data)) == count
        ),
        timeout=timeout,
        what=f"{count} message handler task(s)",
    )


def test_message_handlers_follow_the_setting_and_a_killed_one_is_replaced(cluster: Cluster) -> None:
    c = cluster
    settled(c, 1, timeout=30)
    c.wait_status(
        lambda s: s["system"]["database_update"]["is_completed"] is True,
        timeout=30,
        what="the db-update system task to complete",
    )
    # The handler process reports its totals; the status shows them (restart_scheduler was applied)
    queue = c.wait_status(
        lambda s: s["dependencies"]["msg_queue"]["detail"].get("messages_applied", 0) >= 1,
        timeout=20,
        what="the handler's totals in the status",
    )["dependencies"]["msg_queue"]["detail"]
    assert queue["type"] == "database" and queue["handlers_reporting"] == 1
    assert queue["messages_applied_per_sec"] >= 0

    assert c.patch("/v6/scheduler/", {"num_message_handlers": 3}).status_code in (200, 204)
    status = settled(c, 3, timeout=20)
    assert len([n for n in status["nodes"] if n.get("system_tasks")]) == 2  # spread over both nodes

    assert c.patch("/v6/scheduler/", {"num_message_handlers": 1}).status_code in (200, 204)
    settled(c, 1, timeout=20)

    (victim,) = handler_pids(c.data_dir / "data")
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: (pids := handler_pids(c.data_dir / "data")) and victim not in pids,
        timeout=20,
        what="a new handler to replace the killed one",
    )
    settled(c, 1, timeout=20)
