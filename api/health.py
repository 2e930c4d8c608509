"""The operator's endpoints: `/health` (liveness), `/ready` (readiness), `/metrics`.

`/health` answers 200 while the process serves requests, and asks nothing of the
database: a database outage must not make an orchestrator restart a healthy process.
`/ready` answers 200 only if the database answered a trivial query within the ready
timeout and is migrated (service.readiness), else 503 saying why; both report the
projection lag. `/metrics` is Prometheus' text format (service.metrics).

Every database read here runs in a worker thread that is abandoned, not waited for,
when the timeout passes, so a probe is answered in time even while the database hangs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.bootstrap import Services
from service.outages import is_outage
from service.readiness import Sample, sample

T = TypeVar("T")
log = logging.getLogger("dualtrack.api")


async def bounded(work: Callable[[], T], seconds: float) -> T:
    """`work` in a worker thread; TimeoutError after `seconds`, its thread left to end."""
    with anyio.fail_after(seconds):
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)


async def sampled(services: Services, backlog: bool = False) -> Sample | str:
    """The sample, or why the database could not give one: `timeout`, `unavailable` or
    `error` (never the driver's message: it may quote SQL)."""
    try:
        return await bounded(partial(sample, services, backlog),
                             services.settings.ready_timeout_seconds)
    except TimeoutError:
        return "timeout"
    except Exception as error:  # noqa: BLE001 - reported as the probe's answer
        if is_outage(error):
            return "unavailable"
        log.warning("readiness check failed", exc_info=error)
        return "error"


def health_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health() -> dict[str, str]:  # on the event loop: no worker thread needed
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        found = await sampled(services)
        if isinstance(found, str):
            return JSONResponse({"status": "unavailable", "database": found}, status_code=503)
        body: dict[str, Any] = {
            "status": "ready" if found.ready else "unavailable",
            "database": "up",
            "migrations": {"state": found.migrations, "revision": found.revision},
            "projection": {"position": found.lag.position, "lag_events": found.lag.events,
                           "lag_seconds": round(found.lag.seconds, 3)},
        }
        return JSONResponse(body, status_code=200 if found.ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        found = await sampled(services, backlog=True)
        exposition = services.metrics.exposition(None if isinstance(found, str) else found)
        return Response(exposition, media_type=CONTENT_TYPE_LATEST)

    return router
