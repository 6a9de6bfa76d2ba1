"""GET ``/v6/job-executions/{id}/logs/{stdout|stderr|combined}/``: task output read from the files
the local backend writes under ``<data_dir>/executions/<hostname>/<cluster_id>/logs/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scale.clock import FakeClock
from scale.config import Settings
from scale.services import logs
from scale.store.db import Database
from scale.store.tables import JobExecutionRow
from tests.api.factories import insert_execution, insert_node
from tests.factories import T0, make_job_type, make_queued_job


def make_execution(db: Database, hostname: str = "host-1") -> int:
    job_type_id = make_job_type(db)
    job_id = make_queued_job(db, job_type_id)
    node_id = insert_node(db, hostname, now=T0)
    return insert_execution(db, job_id, 1, node_id=node_id, started=T0)


def log_dir(settings: Settings, db: Database, exe_id: int, hostname: str = "host-1") -> Path:
    with db.read() as session:
        exe = session.get(JobExecutionRow, exe_id)
        assert exe is not None
        cluster_id = exe.cluster_id
    path = settings.data_dir / "executions" / hostname / cluster_id / "logs"
    path.mkdir(parents=True)
    return path


def write_all(path: Path) -> None:
    for task in ("pre", "main", "post"):
        (path / f"{task}.stdout").write_text(f"{task} out\n")
        (path / f"{task}.stderr").write_text(f"{task} err\n")


def test_stdout_lists_the_tasks_in_order(
    client: TestClient, db: Database, settings: Settings, clock: FakeClock
) -> None:
    exe_id = make_execution(db)
    write_all(log_dir(settings, db, exe_id))
    response = client.get(f"/v6/job-executions/{exe_id}/logs/stdout/")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == (
        "=== pre stdout ===\npre out\n=== main stdout ===\nmain out\n=== post stdout ===\npost out\n"
    )


def test_stderr_and_combined(client: TestClient, db: Database, settings: Settings) -> None:
    exe_id = make_execution(db)
    write_all(log_dir(settings, db, exe_id))
    stderr = client.get(f"/v6/job-executions/{exe_id}/logs/stderr/")
    assert stderr.status_code == 200
    assert stderr.text.splitlines() == [
        "=== pre stderr ===",
        "pre err",
        "=== main stderr ===",
        "main err",
        "=== post stderr ===",
        "post err",
    ]
    combined = client.get(f"/v6/job-executions/{exe_id}/logs/combined/")
    assert combined.status_code == 200
    assert combined.text.splitlines() == [
        "=== pre stdout ===",
        "pre out",
        "=== pre stderr ===",
        "pre err",
        "=== main stdout ===",
        "main out",
        "=== main stderr ===",
        "main err",
        "=== post stdout ===",
        "post out",
        "=== post stderr ===",
        "post err",
    ]


def test_only_the_tasks_that_ran_are_shown(client: TestClient, db: Database, settings: Settings) -> None:
    exe_id = make_execution(db)
    path = log_dir(settings, db, exe_id)
    (path / "main.stdout").write_text("no newline at the end")
    response = client.get(f"/v6/job-executions/{exe_id}/logs/combined/")
    assert response.status_code == 200
    assert response.text == "=== main stdout ===\nno newline at the end\n"


def test_unknown_execution_is_404(client: TestClient, db: Database) -> None:
    response = client.get("/v6/job-executions/999/logs/stdout/")
    assert response.status_code == 404
    assert "999" in response.json()["detail"]


def test_execution_without_log_files_is_404(client: TestClient, db: Database, settings: Settings) -> None:
    exe_id = make_execution(db)
    response = client.get(f"/v6/job-executions/{exe_id}/logs/stdout/")
    assert response.status_code == 404
    assert "no logs are stored" in response.json()["detail"]
    # stderr only: stdout still has nothing
    (log_dir(settings, db, exe_id) / "main.stderr").write_text("e\n")
    assert client.get(f"/v6/job-executions/{exe_id}/logs/stdout/").status_code == 404
    assert client.get(f"/v6/job-executions/{exe_id}/logs/stderr/").status_code == 200


def test_unknown_stream_is_404(client: TestClient, db: Database, settings: Settings) -> None:
    exe_id = make_execution(db)
    write_all(log_dir(settings, db, exe_id))
    response = client.get(f"/v6/job-executions/{exe_id}/logs/stdin/")
    assert response.status_code == 404
    assert "stdin" in response.json()["detail"]


@pytest.mark.parametrize("exe_id", ["0", "x", str(2**63)])
def test_bad_execution_id_is_400(client: TestClient, exe_id: str) -> None:
    response = client.get(f"/v6/job-executions/{exe_id}/logs/stdout/")
    assert response.status_code == 400
    assert "exe_id" in response.json()["detail"]


def test_path_components_that_leave_the_data_dir_are_refused(
    client: TestClient, db: Database, settings: Settings
) -> None:
    exe_id = make_execution(db, hostname="..")
    # A log file where the unguarded path would lead: <data_dir>/executions/../<cluster_id>/logs
    with db.read() as session:
        exe = session.get(JobExecutionRow, exe_id)
        assert exe is not None
        cluster_id = exe.cluster_id
    escaped = settings.data_dir / cluster_id / "logs"
    escaped.mkdir(parents=True)
    (escaped / "main.stdout").write_text("secret\n")
    response = client.get(f"/v6/job-executions/{exe_id}/logs/stdout/")
    assert response.status_code == 404
    assert "no logs are stored" in response.json()["detail"]


def test_cluster_id_with_a_slash_is_refused(client: TestClient, db: Database, settings: Settings) -> None:
    exe_id = make_execution(db)
    with db.session() as session:
        exe = session.get(JobExecutionRow, exe_id)
        assert exe is not None
        exe.cluster_id = "../../outside"
    (settings.data_dir / "outside" / "logs").mkdir(parents=True)
    (settings.data_dir / "outside" / "logs" / "main.stdout").write_text("secret\n")
    assert client.get(f"/v6/job-executions/{exe_id}/logs/stdout/").status_code == 404


def test_long_output_keeps_the_tail(
    client: TestClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 200)
    exe_id = make_execution(db)
    path = log_dir(settings, db, exe_id)
    (path / "pre.stdout").write_text("".join(f"early line {i}\n" for i in range(50)))
    (path / "main.stdout").write_text("".join(f"late line {i}\n" for i in range(50)))
    response = client.get(f"/v6/job-executions/{exe_id}/logs/stdout/")
    assert response.status_code == 200
    assert len(response.content) == 200
    first, rest = response.text.split("\n", 1)
    assert first.startswith("=== truncated")
    assert response.text.endswith("late line 49\n")
    assert "early line" not in rest
