"""End to end over HTTP against real processes, on SQLite (``scale up``) and PostgreSQL."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.status_schema import SPEC_EXAMPLE, mismatches
from tests.util import wait_until

pytestmark = pytest.mark.slow

DATA_CODE, JOB_CODE, UNMAPPED_CODE, SYSTEM_FAILURE = 3, 4, 9, 100

# CODE 100 makes the post step fail with a filesystem error (results.json is a directory): a
# SYSTEM error that should be retried, so those jobs run max_tries (3) times.
COMMAND = 'if [ "${CODE}" = "100" ]; then mkdir results.json; exit 0; fi; exit ${CODE}'


def exit_code_job_type() -> dict[str, Any]:
    return {
        "docker_image": "",
        "manifest": {
            "seedVersion": "1.0.0",
            "job": {
                "name": "exit-code",
                "jobVersion": "1.0.0",
                "packageVersion": "1.0.0",
                "title": "Exit Code",
                "description": "Exits with the code in its input",
                "maintainer": {"name": "Tests", "email": "tests@example.com"},
                "timeout": 60,
                "interface": {"command": COMMAND, "inputs": {"json": [{"name": "CODE", "type": "integer"}]}},
                "errors": [
                    {"code": DATA_CODE, "name": "bad-data", "title": "Bad Data", "category": "data"},
                    {"code": JOB_CODE, "name": "bad-algo", "title": "Bad Algorithm", "category": "job"},
                ],
            },
        },
        "configuration": {"priority": 50},
    }


def create_job_type(c: Cluster, body: dict[str, Any] | None = None) -> int:
    r = c.post("/v6/job-types/", body or exit_code_job_type())
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def queue(c: Cluster, type_id: int, code: int) -> int:
    r = c.post("/v6/jobs/", {"job_type_id": type_id, "input": {"json": {"CODE": code}}})
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith(f"/v6/jobs/{r.json()['id']}/")
    return int(r.json()["id"])


def job(c: Cluster, job_id: int) -> dict[str, Any]:
    r = c.get(f"/v6/jobs/{job_id}/")
    assert r.status_code == 200
    result: dict[str, Any] = r.json()
    return result


def executions(c: Cluster, job_id: int) -> list[dict[str, Any]]:
    r = c.get(f"/v6/jobs/{job_id}/executions/", params={"page_size": 100})
    assert r.status_code == 200
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def all_ended(c: Cluster, ids: list[int]) -> bool:
    r = c.get("/v6/jobs/", params={"page_size": 1000, "status": ["QUEUED", "RUNNING"]})
    return r.status_code == 200 and not {j["id"] for j in r.json()["results"]} & set(ids)


def test_status_is_live_complete_and_counts_what_ran(cluster: Cluster) -> None:
    c = cluster
    # With the scheduler running the status is 200 within 10 s, with every spec key
    status = c.wait_status(lambda s: len(s["nodes"]) == 2, timeout=10, what="a status listing 2 nodes")
    assert mismatches(SPEC_EXAMPLE, status) == []
    assert status["resources"]["cpus"]["total"] == pytest.approx(os.cpu_count(), abs=0.01)
    # The message handler is a system task: it starts once a node is READY (after its cleanup)
    status = c.wait_status(
        lambda s: (
            (s["system"]["services"][0]["actual_count"], s["system"]["services"][0]["desired_count"])
            == (1, 1)
        ),
        timeout=30,
        what="the message handler task to run",
    )

    type_id = create_job_type(c)
    codes = [0, DATA_CODE, JOB_CODE, UNMAPPED_CODE, SYSTEM_FAILURE] * 8
    ids = {queue(c, type_id, code): code for code in codes}
    launched = c.wait_status(
        lambda s: s["scheduler"]["metrics"]["jobs_launched_per_sec"] > 0, timeout=30, what="jobs launching"
    )
    assert launched["scheduler"]["metrics"]["tasks_finished_per_sec"] >= 0
    seen_finishing = c.wait_status(
        lambda s: s["scheduler"]["metrics"]["tasks_finished_per_sec"] > 0, timeout=30, what="tasks finishing"
    )
    assert mismatches(SPEC_EXAMPLE, seen_finishing) == []
    wait_until(lambda: all_ended(c, list(ids)), timeout=240, interval=1, what="all 40 jobs to end")

    expected_error = {
        0: None,
        DATA_CODE: "bad-data",
        JOB_CODE: "bad-algo",
        UNMAPPED_CODE: "algorithm-unknown",
        SYSTEM_FAILURE: "filesystem-io",
    }
    per_node: Counter[tuple[int, str]] = Counter()
    per_node_type: Counter[tuple[int, str, int]] = Counter()
    for job_id, code in ids.items():
        j = job(c, job_id)
        assert j["status"] == ("COMPLETED" if code == 0 else "FAILED"), j
        assert (j["error"] or {}).get("name") == expected_error[code]
        # Retries exactly where should_be_retried says: only the system failure, up to max_tries
        assert j["num_exes"] == (3 if code == SYSTEM_FAILURE else 1), j
        exes = executions(c, job_id)
        assert len(exes) == j["num_exes"]
        for exe in exes:
            node_id = exe["node"]["id"]
            key = "completed" if exe["status"] == "COMPLETED" else exe["error"]["category"].lower()
            per_node[(node_id, key)] += 1
            per_node_type[(node_id, key, exe["job_type"]["id"])] += 1

    # The status counts per node match the executions the jobs API lists (after the next build)
    def counts_match(s: dict[str, Any]) -> bool:
        for node in s["nodes"]:
            je, nid = node["job_executions"], node["id"]
            if je["completed"]["total"] != per_node[(nid, "completed")]:
                return False
            for cat in ("data", "algorithm", "system"):
                if je["failed"][cat]["total"] != per_node[(nid, cat)]:
                    return False
                for entry in je["failed"][cat]["by_job_type"]:
                    if entry["count"] != per_node_type[(nid, cat, entry["job_type_id"])]:
                        return False
            for entry in je["completed"]["by_job_type"]:
                if entry["count"] != per_node_type[(nid, "completed", entry["job_type_id"])]:
                    return False
        return True

    final = c.wait_status(counts_match, timeout=15, what="status counts to match the jobs API")
    assert sum(n["job_executions"]["completed"]["total"] for n in final["nodes"]) == 8
    assert sum(n["job_executions"]["failed"]["system"]["total"] for n in final["nodes"]) == 24
    assert all(n["job_executions"]["running"]["total"] == 0 for n in final["nodes"])
    # Idle: the rates drop to zero
    idle = c.wait_status(
        lambda s: (
            s["scheduler"]["metrics"]["jobs_launched_per_sec"] == 0
            and s["scheduler"]["metrics"]["tasks_finished_per_sec"] == 0
            and s["timestamp"] > final["timestamp"]
        ),
        timeout=20,
        what="idle rates",
    )
    assert idle["scheduler"]["metrics"]["jobs_finished_per_sec"] == 0


def test_resources_add_up_on_every_node(cluster: Cluster) -> None:
    c = cluster
    type_id = create_job_type(c)
    long_job = {**exit_code_job_type()}
    long_job["manifest"] = {
        **long_job["manifest"],
        "job": {
            **long_job["manifest"]["job"],
            "name": "sleeper",
            "interface": {"command": "sleep 30"},
            "errors": [],
        },
    }
    sleeper = create_job_type(c, long_job)
    for _ in range(3):
        c.post("/v6/jobs/", {"job_type_id": sleeper, "input": {}})
    del type_id

    def has_running(s: dict[str, Any]) -> bool:
        return sum(n["job_executions"]["running"]["total"] for n in s["nodes"]) == 3

    status = c.wait_status(has_running, timeout=30, what="3 running executions")
    for node in status["nodes"]:
        for name, r in node["resources"].items():
            assert r["offered"] + r["running"] + r["free"] + r["unavailable"] == pytest.approx(
                r["total"], abs=0.011
            ), (node["hostname"], name, r)
        running = node["job_executions"]["running"]["total"]
        node_tasks = sum(t["count"] for t in node["node_tasks"])
        system_tasks = sum(t["count"] for t in node.get("system_tasks", []))
        # each running execution holds its job's resources (0.25 cpu, 128 MiB minimum), each
        # node task (health check, cleanup) 0.1 cpu and 32 MiB, each system task (message
        # handler, database update) 0.5 cpu and 512 MiB
        assert node["resources"]["cpus"]["running"] == pytest.approx(
            0.25 * running + 0.1 * node_tasks + 0.5 * system_tasks, abs=0.01
        )
        assert node["resources"]["mem"]["running"] == pytest.approx(
            128 * running + 32 * node_tasks + 512 * system_tasks, abs=0.01
        )
    for name, r in status["resources"].items():
        assert r["total"] == pytest.approx(
            sum(n["resources"][name]["total"] for n in status["nodes"]), abs=0.02
        )


def sleeper_job_type(seconds: int) -> dict[str, Any]:
    body = exit_code_job_type()
    body["manifest"]["job"] = {
        **body["manifest"]["job"],
        "name": f"sleep-{seconds}",
        "interface": {"command": f"sleep {seconds}"},
        "errors": [],
    }
    return body


def test_pause_holds_the_queue_lets_running_work_finish_and_unpause_runs_it(cluster: Cluster) -> None:
    c = cluster
    type_id = create_job_type(c)
    sleeper = create_job_type(c, sleeper_job_type(4))
    c.wait_status(lambda s: len(s["nodes"]) == 2, timeout=15)
    running = [int(c.post("/v6/jobs/", {"job_type_id": sleeper, "input": {}}).json()["id"]) for _ in range(2)]
    wait_until(lambda: {job(c, i)["status"] for i in running} == {"RUNNING"}, timeout=30, what="jobs running")
    assert c.patch("/v6/scheduler/", {"is_paused": True}).status_code == 200
    paused = c.wait_status(
        lambda s: (
            s["scheduler"]["state"]["name"] == "PAUSED"
            and {n["state"]["name"] for n in s["nodes"]} == {"SCHEDULER_STOPPED"}
        ),
        timeout=20,
        what="a paused scheduler",
    )
    ids = [queue(c, type_id, 0) for _ in range(4)]
    # Work that was running when the scheduler paused runs to its end
    wait_until(
        lambda: {job(c, i)["status"] for i in running} == {"COMPLETED"},
        timeout=60,
        what="running jobs to finish",
    )
    # Two more status builds later the new jobs are still queued
    later = c.wait_status(lambda s: s["timestamp"] > paused["timestamp"], timeout=15)
    c.wait_status(lambda s: s["timestamp"] > later["timestamp"], timeout=15)
    assert {job(c, i)["status"] for i in ids} == {"QUEUED"}
    assert c.wait_status(lambda s: True)["scheduler"]["state"]["name"] == "PAUSED"
    assert c.patch("/v6/scheduler/", {"is_paused": False}).status_code == 200
    wait_until(
        lambda: {job(c, i)["status"] for i in ids} == {"COMPLETED"}, timeout=60, what="jobs to complete"
    )


def test_an_impossible_job_waits_with_a_reason_without_blocking(cluster: Cluster) -> None:
    c = cluster
    small = create_job_type(c)
    huge_body = exit_code_job_type()
    huge_body["manifest"]["job"] = {
        **huge_body["manifest"]["job"],
        "name": "huge",
        "interface": {"command": "exit 0"},
        "errors": [],
        "resources": {"scalar": [{"name": "mem", "value": 1024 * 1024 * 1024}]},
    }
    huge_body["configuration"] = {"priority": 1}
    huge = create_job_type(c, huge_body)
    big_id = int(c.post("/v6/jobs/", {"job_type_id": huge, "input": {}}).json()["id"])
    small_ids = [queue(c, small, 0) for _ in range(4)]
    wait_until(lambda: {job(c, i)["status"] for i in small_ids} == {"COMPLETED"}, timeout=60)
    big = wait_until(lambda: (j := job(c, big_id))["queue_reasons"] and j, timeout=15, what="a queue reason")
    assert big["status"] == "QUEUED"
    assert big["queue_reasons"] == {"insufficient mem": 2}


def test_stopped_scheduler_turns_the_status_204_and_back(split_cluster: Cluster) -> None:
    c = split_cluster
    c.wait_status(timeout=15)
    c.stop("scheduler")
    stopped_at = time.monotonic()
    wait_until(
        lambda: c.get("/v6/status/").status_code == 204, timeout=25, what="204 after the scheduler stops"
    )
    assert time.monotonic() - stopped_at >= 6  # the last snapshot stays fresh for 12 s after it was built
    r = c.get("/v6/status/")
    assert r.status_code == 204 and r.content == b""
    c.start("scheduler", "scheduler", "--data-dir", str(c.data_dir / "data"), "--nodes", "2")
    c.wait_status(timeout=20, what="200 again after a restart")


def _live_pids_with(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` and that are not zombies."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_scale_up_stops_on_signal_and_leaves_no_child(tmp_path: Any, sig: str) -> None:
    import signal as signals
    import uuid

    from tests.e2e.conftest import running_cluster

    marker = f"scale-test-{uuid.uuid4().hex}"
    with running_cluster(tmp_path, "sqlite", split=False) as c:
        body = exit_code_job_type()
        body["manifest"]["job"] = {
            **body["manifest"]["job"],
            "name": "sleeper",
            "interface": {"command": f"python3 -c 'import time; time.sleep(300)' {marker}; echo done"},
            "errors": [],
        }
        type_id = create_job_type(c, body)
        for _ in range(2):
            c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}})
        wait_until(lambda: len(_live_pids_with(marker)) >= 2, timeout=30, what="two running job processes")
        code = c.stop("up", getattr(signals, sig), timeout=30)
        assert code == 0, c.log_tail("up") if "up" in c.logs else code
        wait_until(lambda: not _live_pids_with(marker), timeout=10, what="job processes to be gone")


def test_node_pause_and_deprecation_through_the_api(cluster: Cluster) -> None:
    c = cluster
    status = c.wait_status(
        lambda s: [n["state"]["name"] for n in s["nodes"]] == ["READY", "READY"],
        timeout=30,
        what="2 READY nodes",
    )
    first, second = status["nodes"][0], status["nodes"][1]
    # Pause: PAUSED within one status period, and no new execution starts there
    assert (
        c.patch(f"/v6/nodes/{first['id']}/", {"is_paused": True, "pause_reason": "maintenance"}).status_code
        == 204
    )
    c.wait_status(
        lambda s: {n["id"]: n["state"]["name"] for n in s["nodes"]}[first["id"]] == "PAUSED",
        timeout=6,
        what="PAUSED",
    )
    type_id = create_job_type(c)
    ids = [queue(c, type_id, 0) for _ in range(4)]
    wait_until(
        lambda: {job(c, i)["status"] for i in ids} == {"COMPLETED"}, timeout=60, what="jobs to complete"
    )
    assert {exe["node"]["id"] for i in ids for exe in executions(c, i)} == {second["id"]}
    assert c.patch(f"/v6/nodes/{first['id']}/", {"is_paused": False}).status_code == 204
    c.wait_status(lambda s: {n["state"]["name"] for n in s["nodes"]} == {"READY"}, timeout=10)

    # Deprecate a node with running work: it fails with node-lost and completes on the other
    sleeper = create_job_type(c, sleeper_job_type(20))
    long_ids = [
        int(c.post("/v6/jobs/", {"job_type_id": sleeper, "input": {}}).json()["id"]) for _ in range(4)
    ]

    def running_on_first() -> bool:
        s = c.status()
        return bool(s) and any(
            n["id"] == first["id"] and n["job_executions"]["running"]["total"] for n in s["nodes"]
        )

    wait_until(running_on_first, timeout=30, what="work running on the first node")
    assert c.patch(f"/v6/nodes/{first['id']}/", {"is_active": False}).status_code == 204
    wait_until(
        lambda: {job(c, i)["status"] for i in long_ids} == {"COMPLETED"},
        timeout=150,
        what="retries to finish",
    )
    lost = [
        exe for i in long_ids for exe in executions(c, i) if (exe["error"] or {}).get("name") == "node-lost"
    ]
    assert lost and {exe["node"]["id"] for exe in lost} == {first["id"]}
    done = [exe for i in long_ids for exe in executions(c, i) if exe["status"] == "COMPLETED"]
    assert {exe["node"]["id"] for exe in done} == {second["id"]}


def test_cancel_kills_running_jobs_and_they_end_canceled(cluster: Cluster) -> None:
    c = cluster
    marker = f"scale-cancel-{os.getpid()}-{time.monotonic_ns()}"
    body = exit_code_job_type()
    body["manifest"]["job"] = {
        **body["manifest"]["job"],
        "name": "long",
        "interface": {"command": f"python3 -c 'import time; time.sleep(300)' {marker}"},
        "errors": [],
    }
    type_id = create_job_type(c, body)
    ids = [int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"]) for _ in range(2)]
    wait_until(lambda: {job(c, i)["status"] for i in ids} == {"RUNNING"}, timeout=30, what="jobs running")
    wait_until(lambda: len(_live_pids_with(marker)) >= 2, timeout=30, what="the job processes")
    started = time.monotonic()
    assert c.post("/v6/jobs/cancel/", {"job_ids": ids}).status_code == 202
    wait_until(lambda: not _live_pids_with(marker), timeout=20, what="the job processes to be killed")
    assert time.monotonic() - started < 20
    wait_until(
        lambda: all(e["status"] == "CANCELED" for i in ids for e in executions(c, i)),
        timeout=20,
        what="executions to end CANCELED",
    )
    assert {job(c, i)["status"] for i in ids} == {"CANCELED"}
