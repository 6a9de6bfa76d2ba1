"""Prometheus metrics at ``GET /metrics``, made by ``prometheus_client`` (never hand-written text).

The API and the scheduler may be separate processes (``scale api`` + ``scale scheduler``), so
everything the scheduler knows comes from the status document it stores (read through the app's
:class:`~scale.services.status.StatusCache`, parsed once per document) and the rest from
database queries at scrape time: queue depth and age, executions finished. Each app has its own
:class:`~prometheus_client.CollectorRegistry` (on ``app.state``): the library's global registry
would be shared by every app in the process and keep series of apps long gone.

Names follow Prometheus' conventions: ``scale_`` prefix, base units (seconds, bytes), ``_total``
on counters. The scheduler's counters restart from zero with the scheduler, which Prometheus'
``rate()`` treats as a counter reset.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scale.api.deps import AppContext
from scale.scheduler.metrics import RATE_NAMES
from scale.scheduler.node_state import NodeState
from scale.services.scrape_counts import scrape_counts
from scale.services.status import StatusDocument

MIB = 1024 * 1024
#: status resource name -> (metric name, factor to base units)
RESOURCE_METRICS: Mapping[str, tuple[str, float]] = {
    "cpus": ("scale_node_cpus", 1.0),
    "mem": ("scale_node_memory_bytes", float(MIB)),
    "disk": ("scale_node_disk_bytes", float(MIB)),
    "gpus": ("scale_node_gpus", 1.0),
}
RESOURCE_CATEGORIES = ("running", "offered", "free", "unavailable", "total")
COUNTER_NAMES = tuple(name.removesuffix("_per_sec") for name in RATE_NAMES)
FAILURE_CATEGORIES = ("data", "algorithm", "system")
#: the route label of a request that matched no route (so unknown paths cannot grow the series)
UNMATCHED = "<unmatched>"


@dataclass
class _ParsedStatus:
    """The last document parsed, kept until the cache hands out another one (one parse per document)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    document: StatusDocument | None = None
    parsed: dict[str, Any] | None = None

    def parse(self, document: StatusDocument) -> dict[str, Any]:
        with self.lock:
            if self.document is not document or self.parsed is None:
                self.parsed, self.document = json.loads(document.body), document
            return self.parsed


class ScaleCollector(Collector):
    """Collects the scheduler's and the database's figures at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._parsed = _ParsedStatus()

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only: no database query when registering

    def collect(self) -> Iterator[Metric]:
        from scale.api.routes.system import status_cache

        context: AppContext = self._app.state.context
        now = context.clock.now()
        document = status_cache(self._app).document(context.db, now, context.settings.status_freshness_s)
        up = GaugeMetricFamily("scale_scheduler_up", "1 when the scheduler's status is fresh, else 0")
        up.add_metric([], 1.0 if document is not None else 0.0)
        yield up
        if document is not None:
            yield from status_metrics(self._parsed.parse(document), now, document.timestamp)
        yield from database_metrics(context, now)


def status_metrics(status: Mapping[str, Any], now: datetime, timestamp: datetime) -> Iterator[Metric]:
    """The families derived from one status document."""
    scheduler = status["scheduler"]
    state = GaugeMetricFamily(
        "scale_scheduler_state", "The scheduler's state: 1 for the current one", labels=["state"]
    )
    for name in ("READY", "PAUSED"):
        state.add_metric([name], 1.0 if scheduler["state"]["name"] == name else 0.0)
    yield state
    warnings = GaugeMetricFamily(
        "scale_scheduler_warnings", "Active scheduler warnings by name", labels=["warning"]
    )
    for name, count in _count_names(scheduler.get("warnings", [])).items():
        warnings.add_metric([name], float(count))
    yield warnings
    counters = scheduler.get("counters", {})
    for name in COUNTER_NAMES:
        family = CounterMetricFamily(
            f"scale_scheduler_{name}",
            f"{name.replace('_', ' ').capitalize()} since the scheduler started (the status' {name}_per_sec)",
        )
        family.add_metric([], float(counters.get(name, 0)))
        yield family
    build = GaugeMetricFamily(
        "scale_status_build_duration_seconds", "How long the scheduler's previous status build took"
    )
    build.add_metric([], float(scheduler.get("status_build_seconds", 0.0)))
    yield build
    age = GaugeMetricFamily("scale_status_age_seconds", "Age of the stored status document")
    age.add_metric([], max(0.0, (now - timestamp).total_seconds()))
    yield age
    yield from _service_metrics(status["system"]["services"])
    yield from _node_metrics(status["nodes"])
    msg = status.get("dependencies", {}).get("msg_queue", {}).get("detail", {})
    backlog = GaugeMetricFamily("scale_message_backlog", "Command messages waiting to be applied")
    backlog.add_metric([], float(msg.get("queue_depth", 0)))
    yield backlog
    dead = GaugeMetricFamily(
        "scale_message_dead_letters", "Command messages set aside after failing too often"
    )
    dead.add_metric([], float(msg.get("dead_letters", 0)))
    yield dead


def _count_names(items: list[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[str(item.get("name"))] = counts.get(str(item.get("name")), 0) + 1
    return counts


def _service_metrics(services: list[Mapping[str, Any]]) -> Iterator[Metric]:
    desired = GaugeMetricFamily(
        "scale_service_desired", "Processes a service should have", labels=["service"]
    )
    actual = GaugeMetricFamily("scale_service_actual", "Processes a service has", labels=["service"])
    for service in services:
        desired.add_metric([service["name"]], float(service["desired_count"]))
        actual.add_metric([service["name"]], float(service["actual_count"]))
    yield desired
    yield actual


def _node_metrics(nodes: list[Mapping[str, Any]]) -> Iterator[Metric]:
    by_state = GaugeMetricFamily("scale_nodes", "Nodes in the status by state", labels=["state"])
    counts = {state.value: 0 for state in NodeState}
    for node in nodes:
        counts[node["state"]["name"]] = counts.get(node["state"]["name"], 0) + 1
    for name, count in counts.items():
        by_state.add_metric([name], float(count))
    yield by_state
    for resource, (metric, factor) in RESOURCE_METRICS.items():
        unit = "bytes" if factor != 1.0 else resource
        family = GaugeMetricFamily(
            metric, f"A node's {resource} ({unit}) by category", labels=["node", "category"]
        )
        for node in nodes:
            values = node["resources"].get(resource, {})
            for category in RESOURCE_CATEGORIES:
                family.add_metric([node["hostname"], category], float(values.get(category, 0.0)) * factor)
        yield family
    running = GaugeMetricFamily(
        "scale_node_running_executions", "Executions running on a node", labels=["node"]
    )
    recent = GaugeMetricFamily(
        "scale_node_finished_executions_3h",
        "Executions a node finished in the last 3 hours by outcome and error category",
        labels=["node", "outcome", "error_category"],
    )
    for node in nodes:
        exes = node["job_executions"]
        running.add_metric([node["hostname"]], float(exes["running"]["total"]))
        recent.add_metric([node["hostname"], "completed", ""], float(exes["completed"]["total"]))
        for category in FAILURE_CATEGORIES:
            recent.add_metric(
                [node["hostname"], "failed", category], float(exes["failed"][category]["total"])
            )
    yield running
    yield recent


def database_metrics(context: AppContext, now: datetime) -> Iterator[Metric]:
    """Queue depth and age per job type, executions finished: two grouped queries."""
    labels = ["job_type", "job_type_version"]
    depth = GaugeMetricFamily("scale_queue_jobs", "Queued jobs per job type", labels=labels)
    oldest = GaugeMetricFamily(
        "scale_queue_oldest_job_age_seconds", "Age of the oldest queued job per job type", labels=labels
    )
    finished = CounterMetricFamily(
        "scale_executions_finished",
        "Executions that ended, by job type, outcome and error category",
        labels=[*labels, "outcome", "error_category"],
    )
    queued, ended = scrape_counts(context.db)
    for q in queued:
        age = max(0.0, (now - q.oldest_queued).total_seconds()) if q.oldest_queued else 0.0
        depth.add_metric([q.job_type, q.version], float(q.count))
        oldest.add_metric([q.job_type, q.version], age)
    for f in ended:
        outcome, category = f.status.lower(), (f.error_category or "").lower()
        finished.add_metric([f.job_type, f.version, outcome, category], float(f.count))
    yield depth
    yield oldest
    yield finished


class HttpMetrics:
    """Request counts and latency by route template, in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "scale_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "scale_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        #: the labelled children by (method, route, status): ``labels()`` validates and locks on
        #: every call, half of the cost per request; the label sets are bounded (route templates)
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def record(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, status),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)


class HttpMetricsMiddleware:
    """Pure ASGI middleware, outermost, so it times every request including the status fast path.

    The route label is the matched route's template (``/v6/jobs/{job_id}/``), never the request
    path, so the number of series stays bounded whatever clients send.
    """

    def __init__(
        self,
        app: ASGIApp,
        fast_paths: frozenset[str] = frozenset(),
        mounts: tuple[str, ...] = (),
        router_prefix: str = "",
    ) -> None:
        self.app = app
        #: paths answered before routing (they have no route in the scope): labelled as themselves
        self.fast_paths = fast_paths
        #: mounted prefixes (static files): labelled by the prefix
        self.mounts = mounts
        #: the prefix of the included router, which FastAPI's route templates may lack
        self.router_prefix = router_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics: HttpMetrics = scope["app"].state.http_metrics
        status = {"code": 500}

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, _send)
        finally:
            method = str(scope["method"])
            template = self._template(scope)
            metrics.record(method, template, str(status["code"]), time.perf_counter() - start)

    def _template(self, scope: Scope) -> str:
        path = str(scope["path"])
        template = getattr(scope.get("route"), "path_format", None)
        if isinstance(template, str):
            prefix = self.router_prefix + "/"
            if self.router_prefix and path.startswith(prefix) and not template.startswith(prefix):
                template = self.router_prefix + template
            return template
        if path in self.fast_paths:
            return path
        for mount in self.mounts:
            if path.startswith(mount + "/"):
                return mount + "/"
        return UNMATCHED


def install_metrics(app: FastAPI) -> None:
    """A registry for this app with the scheduler/database collector and the HTTP metrics, and the
    ``/metrics`` route (open when reads are; otherwise any valid token, as for a read)."""
    from scale.api.auth import check_access
    from scale.api.deps import context_of

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScaleCollector(app))
    app.state.metrics_registry = registry
    app.state.http_metrics = HttpMetrics(registry)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        check_access(request, context_of(request))  # a GET: the rule for reads
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
