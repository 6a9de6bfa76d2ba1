"""Issue 13 end to end: a relative data directory works from any directory, and a message
handler that cannot start is backed off, shown with its last words, and recovers."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_PERIODS, Cluster, free_port
from tests.e2e.test_cluster import all_ended, create_job_type, job, queue
from tests.util import wait_until

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_")}
    env.update(FAST_PERIODS)
    return env


def _answers(c: Cluster) -> bool:
    try:
        return c.get("/v6/version/").status_code == 200
    except Exception:
        return False


def test_a_relative_data_dir_from_one_directory_and_its_absolute_path_from_another(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    up_port, api_port = free_port(), free_port()
    env = _clean_env()
    up = Cluster(f"http://127.0.0.1:{up_port}", tmp_path, env)
    api = Cluster(f"http://127.0.0.1:{api_port}", tmp_path, env)
    try:
        os.chdir(here)  # Popen inherits it: ``scale up --data-dir data`` runs in ``here``
        up.start("up", "up", "--port", str(up_port), "--data-dir", "data")
        wait_until(lambda: up.printed_tokens("up"), timeout=60, what="scale up's token")
        os.chdir(there)
        api.start("api", "api", "--port", str(api_port), "--data-dir", str(here / "data"))
        api.token = up.printed_tokens("up")[0]
        wait_until(lambda: _answers(api) and _answers(up), timeout=60, what="both APIs")
        type_id = create_job_type(api)
        ids = [queue(api, type_id, code) for code in (0, 0, 3)]
        wait_until(lambda: all_ended(api, ids), timeout=90, interval=0.5, what="the jobs to end")
        assert [job(api, i)["status"] for i in ids] == ["COMPLETED", "COMPLETED", "FAILED"]
        assert [job(up, i)["status"] for i in ids] == ["COMPLETED", "COMPLETED", "FAILED"]
        assert (here / "data" / "scale.db").exists() and not (there / "data").exists()
        assert not (here / ".scale").exists() and not (there / ".scale").exists()
    finally:
        os.chdir(tmp_path)
        api.close()
        up.close()


#: Makes ``scale message-handler`` (and only it) exit 1 at start while the flag file exists: a
#: stand-in for a broken handler (a bad install, a wrong setting) whose cause can be removed.
SITECUSTOMIZE = """
import os
import time
if os.environ.get("SCALE_TASK_TYPE") == "message-handler" and os.path.exists({flag!r}):
    os.write(2, b"handler start refused: flag file present\\n")
    os._exit(1)
"""


def handler_launches(data: Path) -> int:
    tasks = data / "system-tasks"
    return len(list(tasks.glob("scale_message_handler_*.stderr"))) if tasks.is_dir() else 0


def failing_warning(status: dict[str, Any]) -> dict[str, Any] | None:
    for warning in status["scheduler"]["warnings"]:
        if warning["name"] == "TASK_FAILING_MESSAGE_HANDLER":
            return dict(warning)
    return None


def test_a_handler_that_exits_at_start_is_backed_off_shown_and_recovers(tmp_path: Path) -> None:
    hooks, data = tmp_path / "hooks", tmp_path / "data"
    hooks.mkdir()
    flag = tmp_path / "broken"
    flag.write_text("")
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE.format(flag=str(flag)))
    env = _clean_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH", "")) if p)
    port = free_port()
    c = Cluster(f"http://127.0.0.1:{port}", tmp_path, env)
    try:
        c.start("up", "up", "--port", str(port), "--data-dir", str(data))
        wait_until(lambda: _answers(c), timeout=60, what="the API")
        first = wait_until(lambda: handler_launches(data), timeout=30, what="a first handler launch")
        started = time.monotonic()
        status = c.wait_status(lambda s: failing_warning(s) is not None, timeout=30, what="the warning")
        warning = failing_warning(status)
        assert warning is not None
        assert "handler start refused: flag file present" in warning["description"]
        assert "failed" in warning["description"] and "times in a row" in warning["description"]
        # Watch for 60 s: backed off, not relaunched on every pass (it was ~twice a second).
        wait_until(lambda: time.monotonic() - started >= 60, timeout=70, interval=1, what="60 s")
        assert handler_launches(data) - first <= 8, handler_launches(data)
        assert c.status() is not None  # the scheduler itself stayed up

        flag.unlink()  # the cause is removed: the next launch stays up and the warning clears
        c.wait_status(
            lambda s: failing_warning(s) is None and s["system"]["services"][0]["actual_count"] == 1,
            timeout=120,
            what="the handler to run and the warning to clear",
        )
    finally:
        c.close()
