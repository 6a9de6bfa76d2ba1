"""``/metrics`` scraped from a live system and parsed with prometheus_client's own parser: every
family present, values equal to the status document's at the same moment, counters that never
go down. On SQLite (``scale up``) and on PostgreSQL, where the API that serves ``/metrics`` and
the scheduler are separate processes (so every figure must come from the stored status or
the database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Cluster
from tests.ops.conftest import NODES, live_system, populate
from tests.util import wait_until

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
COUNTERS = (
    "task_updates",
    "new_offers",
    "jobs_finished",
    "jobs_launched",
    "tasks_launched",
    "offers_launched",
    "tasks_finished",
)
#: every family the issue names, by (name as the parser gives it, type)
FAMILIES = {
    ("scale_scheduler_up", "gauge"),
    ("scale_scheduler_state", "gauge"),
    ("scale_scheduler_warnings", "gauge"),
    *((f"scale_scheduler_{name}", "counter") for name in COUNTERS),
    ("scale_nodes", "gauge"),
    ("scale_node_cpus", "gauge"),
    ("scale_node_memory_bytes", "gauge"),
    ("scale_node_disk_bytes", "gauge"),
    ("scale_node_gpus", "gauge"),
    ("scale_node_running_executions", "gauge"),
    ("scale_node_finished_executions_3h", "gauge"),
    ("scale_service_desired", "gauge"),
    ("scale_service_actual", "gauge"),
    ("scale_queue_jobs", "gauge"),
    ("scale_queue_oldest_job_age_seconds", "gauge"),
    ("scale_executions_finished", "counter"),
    ("scale_message_backlog", "gauge"),
    ("scale_message_dead_letters", "gauge"),
    ("scale_status_build_duration_seconds", "gauge"),
    ("scale_status_age_seconds", "gauge"),
    ("scale_http_requests", "counter"),
    ("scale_http_request_duration_seconds", "histogram"),
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def metrics_system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, dict[str, list[int]]]]:
    with live_system(tmp_path_factory.mktemp("metrics"), request.param) as c:
        yield c, populate(c)


def scrape(c: Cluster) -> tuple[dict[str, Any], Samples]:
    r = c.anonymous.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    samples: Samples = {}
    for family in families.values():
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def at_one_moment(c: Cluster) -> tuple[dict[str, Any], dict[str, Any], Samples]:
    """A scrape with the status document it was made from: the same document before and after."""

    def attempt() -> tuple[dict[str, Any], dict[str, Any], Samples] | None:
        before = c.status()
        families, samples = scrape(c)
        after = c.status()
        if before is None or after is None or before["timestamp"] != after["timestamp"]:
            return None
        return before, families, samples

    found: tuple[dict[str, Any], dict[str, Any], Samples] = wait_until(
        attempt, timeout=60, interval=0.1, what="a scrape between two reads of the same status"
    )
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_every_family_is_present_and_equals_the_status_document(
    metrics_system: tuple[Cluster, dict[str, list[int]]],
) -> None:
    c, jobs = metrics_system
    assert c.get(f"/v6/jobs/{jobs['failed'][0]}/").status_code == 200
    status, families, samples = at_one_moment(c)
    assert {(name, f.type) for name, f in families.items()} >= FAMILIES
    assert value(samples, "scale_scheduler_up") == 1
    assert value(samples, "scale_scheduler_state", state="READY") == 1
    assert value(samples, "scale_scheduler_state", state="PAUSED") == 0
    for name in COUNTERS:
        assert value(samples, f"scale_scheduler_{name}_total") == status["scheduler"]["counters"][name]
    assert status["scheduler"]["counters"]["jobs_launched"] >= 4
    assert (
        value(samples, "scale_status_build_duration_seconds") == status["scheduler"]["status_build_seconds"]
    )

    # Nodes by state, and each node's resources by category in base units (bytes for mem, disk)
    by_state: dict[str, int] = {}
    for node in status["nodes"]:
        by_state[node["state"]["name"]] = by_state.get(node["state"]["name"], 0) + 1
    assert sum(by_state.values()) == NODES
    for state in ("READY", "PAUSED", "OFFLINE", "DEGRADED", "DEPRECATED"):
        assert value(samples, "scale_nodes", state=state) == by_state.get(state, 0)
    for node in status["nodes"]:
        host = node["hostname"]
        for resource, metric, factor in (
            ("cpus", "scale_node_cpus", 1),
            ("mem", "scale_node_memory_bytes", MIB),
            ("disk", "scale_node_disk_bytes", MIB),
            ("gpus", "scale_node_gpus", 1),
        ):
            for category in ("running", "offered", "free", "unavailable", "total"):
                expected = node["resources"][resource][category] * factor
                assert value(samples, metric, node=host, category=category) == pytest.approx(expected)
        exes = node["job_executions"]
        assert value(samples, "scale_node_running_executions", node=host) == exes["running"]["total"]
        assert (
            value(
                samples,
                "scale_node_finished_executions_3h",
                node=host,
                outcome="completed",
                error_category="",
            )
            == exes["completed"]["total"]
        )
        for category in ("data", "algorithm", "system"):
            assert (
                value(
                    samples,
                    "scale_node_finished_executions_3h",
                    node=host,
                    outcome="failed",
                    error_category=category,
                )
                == exes["failed"][category]["total"]
            )
    assert sum(n["job_executions"]["failed"]["data"]["total"] for n in status["nodes"]) == 2
    for service in status["system"]["services"]:
        assert value(samples, "scale_service_desired", service=service["name"]) == service["desired_count"]
        assert value(samples, "scale_service_actual", service=service["name"]) == service["actual_count"]
    msg = status["dependencies"]["msg_queue"]["detail"]
    assert value(samples, "scale_message_backlog") == msg["queue_depth"]
    assert value(samples, "scale_message_dead_letters") == msg["dead_letters"]

    # From the database: the queue per job type and the executions finished
    assert value(samples, "scale_queue_jobs", job_type="giant", job_type_version="1.0.0") == 1
    assert (
        value(samples, "scale_queue_oldest_job_age_seconds", job_type="giant", job_type_version="1.0.0") > 0
    )
    labels = {
        "job_type": "sleeper",
        "job_type_version": "1.0.0",
        "outcome": "failed",
        "error_category": "data",
    }
    assert value(samples, "scale_executions_finished_total", **labels) == 2

    # HTTP requests by route template (never by raw path), with the status fast path included
    assert value(samples, "scale_http_requests_total", method="GET", route="/v6/status/", status="200") >= 1
    assert (
        value(samples, "scale_http_requests_total", method="GET", route="/v6/jobs/{job_id}/", status="200")
        >= 1
    )
    routes = {dict(labels)["route"] for (name, labels) in samples if name == "scale_http_requests_total"}
    assert not any(str(jobs["failed"][0]) in route for route in routes)


def test_counters_never_decrease_across_scrapes(metrics_system: tuple[Cluster, dict[str, list[int]]]) -> None:
    c, _ = metrics_system
    previous: Samples | None = None
    timestamps: list[str] = []
    for _ in range(3):
        families, samples = scrape(c)
        counter_names = {
            s.name for f in families.values() if f.type in {"counter", "histogram"} for s in f.samples
        }
        counters = {
            k: v for k, v in samples.items() if k[0] in counter_names and not k[0].endswith("_created")
        }
        assert counters
        if previous is not None:
            for key, old in previous.items():
                assert counters.get(key, 0.0) >= old, key
            key = ("scale_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "200")))
            assert counters[key] > previous.get(key, 0.0)
        previous = counters
        # the next scrape after the scheduler stored another document
        status = c.wait_status(lambda s: s["timestamp"] not in timestamps, timeout=30, what="a new status")
        timestamps.append(status["timestamp"])
