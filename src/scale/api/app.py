"""The FastAPI application: built by :func:`create_app` from its parts; nothing at import time."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

import scale
from scale.api.auth import API_PREFIX, authorize
from scale.api.deps import AppContext, reject_nul
from scale.api.errors import install_error_handlers
from scale.api.metrics import HttpMetricsMiddleware, install_metrics
from scale.api.openapi import install_openapi
from scale.api.pagination import NullPageSize
from scale.api.routes import (
    accounts,
    data,
    error_catalog,
    job_executions,
    job_type_stats,
    job_types,
    jobs,
    messages,
    metrics,
    nodes,
    queue,
    scheduler,
    system,
)
from scale.api.status_fast_path import STATUS_PATH, StatusFastPath
from scale.clock import SystemClock
from scale.config import Settings
from scale.dashboard import STATIC_PREFIX, install_dashboard
from scale.scheduler.ports import Clock
from scale.store.db import Database


def create_app(settings: Settings, db: Database, *, clock: Clock | None = None) -> FastAPI:
    """The v6 REST API over ``db``. Paths need their trailing slash: ``/v6/jobs`` is a 404.

    Writes need a write token and reads follow ``settings.public_read`` (``api/auth.py``).

    The caller owns ``db`` (and disposes of it); ``clock`` defaults to the system clock.
    """
    app = FastAPI(
        title="Scale",
        version=scale.__version__,
        description="Scale's v6 REST API: status, scheduler, nodes, job types, jobs, queue and errors.",
        redirect_slashes=False,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = AppContext(settings=settings, db=db, clock=clock or SystemClock())
    install_error_handlers(app)
    # The token check comes first, so a request without the right token learns nothing of its input.
    v6 = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authorize), Depends(reject_nul)])
    # job_type_stats before job_types: its /job-types/status/ must not be read as a job type name.
    modules = (
        system,
        scheduler,
        job_type_stats,
        job_types,
        jobs,
        job_executions,
        nodes,
        error_catalog,
        queue,
    )
    for module in (*modules, messages, metrics, data, accounts):
        v6.include_router(module.router)
    app.include_router(v6)
    install_openapi(app, settings, prefix=API_PREFIX)
    # The web dashboard at / (its page, static files and two data routes) and /metrics.
    install_dashboard(app)
    install_metrics(app)
    # Open reads of the status skip routing and dependencies (see the module).
    app.add_middleware(StatusFastPath)
    app.add_middleware(NullPageSize)
    # Outermost, so request counts and latency include the status fast path.
    app.add_middleware(
        HttpMetricsMiddleware,
        fast_paths=frozenset({STATUS_PATH}),
        mounts=(STATIC_PREFIX,),
        router_prefix=API_PREFIX,
    )
    return app
