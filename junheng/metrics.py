"""The metrics of the long-running processes (the Kafka worker, the builder), defined in one place,
and the small HTTP server that serves them with the health checks.

    GET /metrics   Prometheus text format (prometheus_client)
    GET /healthz   200 while the process is alive (its loop is turning), 503 otherwise
    GET /readyz    200 when it does its job now (worker: partitions assigned and caught up within a
                   bound; builder: the last build published), 503 with the reason otherwise

Every metric this project exports is named here (docs/operations.md explains each, and
``infra/prometheus/rules.yml`` and ``infra/grafana/junheng.json`` use only these names; a test checks
it). The worker's event counts are not kept twice: they are read at each scrape from the pipeline's
one ``Counts`` (streams/pipeline.py, through :class:`WorkerView`), so ``/metrics`` says what
``worker-counts.json`` and ``junheng run --json`` say. Faust's own Prometheus sensor
(``faust.sensors.prometheus``) adds its consumer/producer metrics under ``junheng_faust_*`` on the
same registry (streams/worker_metrics.py).

One :class:`Metrics` (one registry) per process, not prometheus_client's global registry: a test
may run several workers' runtimes in one process. This module sits low in the layers (beside
junheng.compiled_engine) so that the drivers, the build and the processes can all use it; it
imports nothing of the project.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["EXPORTED", "HealthServer", "Metrics", "OUTCOMES", "WorkerView", "Check"]

#: a check's answer: (ok, why) -- why is shown on /healthz and /readyz
Check = Callable[[], tuple[bool, str]]

#: the pipeline's outcomes (streams.processing.OUTCOMES; a test checks they agree)
OUTCOMES = ("applied", "duplicate", "stale", "dead_lettered")
BUILD_RESULTS = ("ok", "failed", "abandoned")
#: seconds; a micro-batch takes ~10 ms to ~2 s, the GX suites ~0.05-1 s
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: seconds; a build takes ~5 s (incremental, small) to minutes (full, national)
BUILD_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

#: every metric name this project exports (without the _total/_bucket/... suffixes Prometheus adds),
#: with its type and meaning: the runbook's table (docs/operations.md) and the tests use it
EXPORTED: dict[str, tuple[str, str]] = {
    # the worker
    "junheng_events_read_total": ("counter", "events the worker read from the events topic"),
    "junheng_events_total": (
        "counter",
        "events by outcome: applied, duplicate, stale, dead_lettered (they add up to junheng_events_read_total)",
    ),
    "junheng_dead_letters_total": ("counter", "dead-lettered events by reason code (docs/events.md)"),
    "junheng_internal_errors_total": ("counter", "events the rules core raised on (dead-lettered internal_error)"),
    "junheng_batches_total": ("counter", "micro-batches landed"),
    "junheng_batch_duration_seconds": (
        "histogram",
        "a micro-batch from its GX verdicts to acknowledged: apply, land, send, table writes",
    ),
    "junheng_gx_duration_seconds": ("histogram", "the Great Expectations suites on one micro-batch"),
    "junheng_consumer_lag": (
        "gauge",
        "events not yet committed by the worker's group, per partition of the "
        "events topic (end offset - committed offset)",
    ),
    "junheng_partitions_assigned": ("gauge", "partitions of the events topic this worker owns"),
    "junheng_last_commit_timestamp_seconds": (
        "gauge",
        "when this worker last committed offsets, or started if it has not yet (Unix time)",
    ),
    "junheng_last_commit_age_seconds": (
        "gauge",
        "seconds since this worker last committed offsets (or started, if it has not yet)",
    ),
    "junheng_state_rebuilds_total": (
        "counter",
        "district states rebuilt from the facts table (after a start, a rebalance or an eviction)",
    ),
    # the builder (junheng serve)
    "junheng_builds_total": ("counter", "builds by result: ok, failed, abandoned"),
    "junheng_build_duration_seconds": ("histogram", "a build's duration, by result"),
    "junheng_marts_published_timestamp_seconds": ("gauge", "when the published marts were built (Unix time)"),
    "junheng_marts_age_seconds": ("gauge", "age of the published marts (seconds since their build)"),
    "junheng_marts_pending_seconds": (
        "gauge",
        "how long the oldest landed change not yet in the published marts has waited (0: the marts are current)",
    ),
    # both (the worker's stream alerts, the builder's alert stage)
    "junheng_alerts_firing": ("gauge", "alerts firing after the last evaluation"),
    "junheng_alert_deliveries_failed_total": (
        "counter",
        "alert deliveries that failed, by channel (alertmanager, webhook, kafka); the events stay queued",
    ),
    "junheng_info": ("gauge", "1, labelled with the process, version, catalogue and engine (compiled or pure)"),
}


def process_memory_mib(pid: int, field: str = "VmRSS") -> float | None:
    """A process's memory from Linux's ``/proc/<pid>/status`` in MiB: ``VmRSS`` (resident now) or
    ``VmHWM`` (its peak); None once it has ended or elsewhere than Linux. For the children the
    long-running processes keep (the GX validator, the builder's warm dbt)."""
    try:
        for line in open(f"/proc/{pid}/status", encoding="ascii", errors="replace"):
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class WorkerView:
    """What the worker's metrics read at each scrape (streams/worker_metrics.py builds it)."""

    counts: Callable[[], Mapping[str, Any]]  # streams.pipeline.Counts.as_dict
    lag: Callable[[], Mapping[tuple[str, int], int] | None]  # (topic, partition) -> events behind; None: unknown
    assigned: Callable[[], int]
    last_commit_at: Callable[[], float | None]  # Unix time; None: none yet
    state_rebuilds: Callable[[], int]


class Metrics:
    """One process's metrics: its registry, the metrics it records as things happen, and the
    collectors that read a state at each scrape."""

    def __init__(self, process: str, **info: str) -> None:
        """`process`: "worker" or "builder"; `info`: labels of ``junheng_info`` (version, catalogue, engine)."""
        self.process = process
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.batch_seconds = Histogram(
            "junheng_batch_duration_seconds",
            EXPORTED["junheng_batch_duration_seconds"][1],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.gx_seconds = Histogram(
            "junheng_gx_duration_seconds",
            EXPORTED["junheng_gx_duration_seconds"][1],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.alerts_firing = Gauge("junheng_alerts_firing", EXPORTED["junheng_alerts_firing"][1], registry=r)
        self.alert_deliveries_failed = Counter(
            "junheng_alert_deliveries_failed",
            EXPORTED["junheng_alert_deliveries_failed_total"][1],
            ["channel"],
            registry=r,
        )
        if process == "builder":
            self.builds = Counter("junheng_builds", EXPORTED["junheng_builds_total"][1], ["result"], registry=r)
            self.build_seconds = Histogram(
                "junheng_build_duration_seconds",
                EXPORTED["junheng_build_duration_seconds"][1],
                ["result"],
                buckets=BUILD_BUCKETS,
                registry=r,
            )
            for result in BUILD_RESULTS:  # a series from the start, so increase() sees the first failure
                self.builds.labels(result=result)
                self.build_seconds.labels(result=result)
        self.marts_published_at: float | None = None
        #: the builder's: seconds the oldest unpublished landing change has waited (None: none waits)
        self.marts_pending: Callable[[], float | None] | None = None
        info_gauge = Gauge("junheng_info", EXPORTED["junheng_info"][1], ["process", *sorted(info)], registry=r)
        info_gauge.labels(process=process, **info).set(1)
        self._worker: WorkerView | None = None
        r.register(_AgeCollector(self))

    # ------------------------------------------------------------------ recorded as it happens
    def record_build(self, result: str, seconds: float) -> None:
        """A build ended: "ok", "failed" or "abandoned"."""
        self.builds.labels(result=result).inc()
        self.build_seconds.labels(result=result).observe(seconds)

    def record_alert_run(self, run: Any) -> None:
        """An alert evaluation (junheng.alerting.run.AlertRun): what fires now and which deliveries failed."""
        if run is None:
            return
        self.alerts_firing.set(len(run.firing))
        for delivery in run.deliveries:
            if not delivery.ok:
                self.alert_deliveries_failed.labels(channel=delivery.channel).inc()

    def published(self, built_at: float | None) -> None:
        """The published marts were built at `built_at` (Unix time; None: nothing published)."""
        self.marts_published_at = built_at

    # ------------------------------------------------------------------ read at each scrape
    def watch_worker(self, view: WorkerView) -> None:
        """Export the worker's counts, lag, commit and rebuilds from `view` at each scrape."""
        self._worker = view
        self.registry.register(_WorkerCollector(view))

    def text(self) -> str:
        """The exposition, as Prometheus would scrape it (for tests and `junheng status`)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")


class _AgeCollector(Collector):
    """Ages computed when scraped, so they grow while nothing happens (a stalled worker's commit)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        m = self.metrics
        if m.process == "builder" and m.marts_published_at is not None:
            yield _gauge("junheng_marts_published_timestamp_seconds", m.marts_published_at)
            yield _gauge("junheng_marts_age_seconds", max(0.0, now - m.marts_published_at))
        if m.marts_pending is not None:
            yield _gauge("junheng_marts_pending_seconds", m.marts_pending() or 0.0)
        view = m._worker
        if view is not None:
            at = view.last_commit_at()
            if at is not None:
                yield _gauge("junheng_last_commit_timestamp_seconds", at)
                yield _gauge("junheng_last_commit_age_seconds", max(0.0, now - at))


class _WorkerCollector(Collector):
    """The pipeline's counts, the consumer lag and the state rebuilds, read at each scrape."""

    def __init__(self, view: WorkerView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        counts = self.view.counts()
        yield _counter("junheng_events_read", counts.get("read", 0))
        events = CounterMetricFamily("junheng_events", EXPORTED["junheng_events_total"][1], labels=["outcome"])
        for outcome in OUTCOMES:
            events.add_metric([outcome], float(counts.get(outcome, 0)))
        yield events
        reasons = CounterMetricFamily(
            "junheng_dead_letters", EXPORTED["junheng_dead_letters_total"][1], labels=["reason"]
        )
        for reason, n in sorted((counts.get("dead_letter_reasons") or {}).items()):
            reasons.add_metric([reason], float(n))
        yield reasons
        yield _counter("junheng_internal_errors", counts.get("internal_errors", 0))
        yield _counter("junheng_batches", counts.get("batches", 0))
        yield _counter("junheng_state_rebuilds", self.view.state_rebuilds())
        yield _gauge("junheng_partitions_assigned", self.view.assigned())
        lag = self.view.lag()
        family = GaugeMetricFamily(
            "junheng_consumer_lag", EXPORTED["junheng_consumer_lag"][1], labels=["topic", "partition"]
        )
        for (topic, partition), behind in sorted((lag or {}).items()):
            family.add_metric([topic, str(partition)], float(behind))
        yield family


def _counter(name: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, EXPORTED[f"{name}_total"][1], value=float(value))


def _gauge(name: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, EXPORTED[name][1], value=float(value))


# ---------------------------------------------------------------------- the HTTP server
class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Prometheus scrapes every few seconds: no access log."""


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one port, in a daemon thread: it answers even
    while the process's own loop is busy (which is what ``alive`` then reports)."""

    def __init__(
        self,
        metrics: Metrics,
        port: int,
        bind: str = "127.0.0.1",
        *,
        alive: Check | None = None,
        ready: Check | None = None,
    ) -> None:
        self.metrics = metrics
        self.alive = alive or (lambda: (True, "alive"))
        self.ready = ready or (lambda: (True, "ready"))
        self._metrics_app = make_wsgi_app(metrics.registry)
        try:
            self._server = make_server(bind, port, self._app, server_class=_Server, handler_class=_Quiet)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {bind}:{port}: {exc.strerror or exc}") from None
        self.port = int(self._server.server_address[1])
        self.bind = bind
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path in ("/metrics", "/metrics/"):
            return self._metrics_app(environ, start_response)  # type: ignore[no-any-return]
        check = {"/healthz": self.alive, "/readyz": self.ready}.get(path.rstrip("/") or "/")
        if check is None:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: /metrics, /healthz, /readyz\n"]
        try:
            ok, why = check()
        except Exception as exc:  # noqa: BLE001 - a check that raises is a failed check, with its reason
            ok, why = False, f"{type(exc).__name__}: {exc}"
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [f"{'ok' if ok else 'not ok'}: {why}\n".encode()]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
