"""The Prometheus metrics of one running service, exposed at `/metrics`.

Counted as they happen (by api.telemetry): commands by name and outcome, and errors by
their `extensions.code`. Sampled from the database at each scrape (service.readiness):
projection lag in events and seconds, each registry consumer's backlog, the webhook
deliveries waiting for a retry, and whether the database answered at all. A scrape while
the database is down still answers, with `dualtrack_database_up 0` and no sampled
figures (Prometheus then shows gaps, not stale values).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from service.readiness import Sample

OK = "ok"


class Metrics:
    def __init__(self) -> None:
        # A registry per service, not the process-wide default: tests build many services.
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "dualtrack_commands", "Commands (GraphQL mutations) by name and outcome: "
            "ok, or the error code they failed with", ["command", "outcome"],
            registry=self.registry)
        self.errors = Counter(
            "dualtrack_errors", "GraphQL errors returned, by extensions.code", ["code"],
            registry=self.registry)

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(name, outcome).inc()

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def exposition(self, sampled: Sample | None) -> bytes:
        """The text format; `sampled` is None when the database did not answer."""
        gauges = CollectorRegistry()
        gauges.register(_Sampled(sampled))
        return generate_latest(self.registry) + generate_latest(gauges)


class _Sampled(Collector):
    def __init__(self, sampled: Sample | None):
        self.sampled = sampled

    def collect(self) -> Iterator[Metric]:
        sampled = self.sampled
        yield GaugeMetricFamily(
            "dualtrack_database_up", "1 if the database answered this scrape, else 0",
            value=0 if sampled is None else 1)
        if sampled is None:
            return
        yield GaugeMetricFamily(
            "dualtrack_projection_lag_events",
            "Events recorded but not yet projected into the read models",
            value=sampled.lag.events)
        yield GaugeMetricFamily(
            "dualtrack_projection_lag_seconds",
            "Age of the oldest event not yet projected (0 when none waits)",
            value=sampled.lag.seconds)
        if sampled.backlog is None:
            return
        backlog = GaugeMetricFamily(
            "dualtrack_delivery_backlog_events",
            "Projected events a registry consumer (webhook:<endpoint id>, or the NATS "
            "relay) has not yet passed", labels=["consumer"])
        for consumer, events in sorted(sampled.backlog.events.items()):
            backlog.add_metric([consumer], events)
        yield backlog
        pending = GaugeMetricFamily(
            "dualtrack_webhook_deliveries_pending",
            "Webhook deliveries that failed and wait for a retry, by endpoint id",
            labels=["endpoint"])
        for endpoint, waiting in sorted(sampled.backlog.pending_deliveries.items()):
            pending.add_metric([endpoint], waiting)
        yield pending
