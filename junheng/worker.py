"""Run the Kafka worker: the Faust app of streams/app.py, from the command line, with its stream alerts.

    junheng worker --warehouse DIR [--batch-size 5000] [--batch-seconds 0.2] [--metrics-port 9464]

Connection, security and topic names come from the JUNHENG_KAFKA_* and JUNHENG_TOPIC_PREFIX
environment variables (junheng/settings.py). The worker creates the project's topics if they
are missing (idempotent; Faust would silently ignore a missing source topic), then consumes the
events topic until SIGTERM/SIGINT. It logs its running counts every --log-every seconds and
writes them after every batch to <warehouse>/worker-counts.json (or --counts-file):
read = applied + duplicate + stale + dead_lettered. With a metrics port (--metrics-port or
JUNHENG_METRICS_PORT) it serves the same counts and more as Prometheus metrics, with /healthz and
/readyz (junheng/metrics.py, streams/worker_metrics.py, docs/operations.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from junheng import settings as junheng_settings
from junheng.settings import KafkaSettings
from streams.runtime import tune_gc

log = logging.getLogger("junheng.worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="junheng worker", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--warehouse",
        default=str(junheng_settings.default_warehouse()),
        help="landing/ goes here, and worker-counts.json (default: JUNHENG_WAREHOUSE or ./warehouse)",
    )
    parser.add_argument("--batch-size", type=int, default=5000, help="events per micro-batch at most (5000)")
    parser.add_argument("--no-gx", action="store_true", help="skip the Great Expectations micro-batch suites")
    parser.add_argument(
        "--gx-in-process",
        action="store_true",
        help="run the suites in the worker process (default: in a child process, so "
        "they use the second core while the event loop goes on)",
    )
    parser.add_argument(
        "--plain-faust-delivery",
        action="store_true",
        help="hand each record to the agent through Faust's own wait_first (four tasks "
        "a record) instead of the fast path of streams/fast_delivery.py; to compare",
    )
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=0.2,
        help="a micro-batch closes after this many seconds even when not full (0.2): "
        "the window is part of every event's latency",
    )
    parser.add_argument("--worker-id", help="names this worker's landing files (default: <host>_<pid>)")
    parser.add_argument(
        "--app-id", help="Faust app id = consumer group and changelog prefix (default: <JUNHENG_TOPIC_PREFIX>-worker)"
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="partitions of the events topic if the worker has to create it (4)"
    )
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument(
        "--no-create-topics",
        action="store_true",
        help="do not create missing topics (e.g. no admin rights); the events topic must exist",
    )
    parser.add_argument("--standby-replicas", type=int, default=1, help="Faust table standby replicas (1)")
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=60.0,
        help="seconds before the group gives a silent (crashed) worker's partitions to "
        "another (60; the broker allows 6-300 by default)",
    )
    parser.add_argument(
        "--max-loaded-districts",
        type=int,
        default=junheng_settings.settings().max_loaded_districts,
        help="district states kept in memory between batches; colder ones are rebuilt from "
        "the facts table when needed (JUNHENG_MAX_LOADED_DISTRICTS, 128)",
    )
    parser.add_argument("--log-every", type=float, default=10.0, help="seconds between count log lines (10)")
    parser.add_argument("--counts-file", help="default: <warehouse>/worker-counts.json")
    parser.add_argument("--catalogue", help="rules catalogue (default: JUNHENG_CATALOGUE or qingdao-2021)")
    parser.add_argument(
        "--log-dead-letters",
        action="store_true",
        help="log every dead letter (origin, event id, reason) at INFO, not only its count "
        "(the fault tests turn it on so a failed run shows why each one was rejected)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics, /healthz and /readyz on this port, 0: off "
        "(default: JUNHENG_METRICS_PORT, off; the address is JUNHENG_METRICS_BIND)",
    )
    parser.add_argument(
        "--ready-max-lag",
        type=int,
        default=10_000,
        metavar="EVENTS",
        help="/readyz says ready while the group's lag on this worker's partitions is at most this many events (10000)",
    )
    parser.add_argument("--loglevel", default="info", help="log level: debug, info, warning, error (info)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from junheng.compiled_engine import install as install_engine

    engine_kind = install_engine()  # before anything imports rules
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.loglevel.upper(), format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
    )
    log.info("rules engine: %s", engine_kind)
    for name in ("kafka", "aiokafka"):  # connection chatter at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    from kafka.errors import KafkaError

    from ingestion.kafka_access import preflight, redact
    from ingestion.producer import create_topics, topic_partitions
    from junheng.errors import UserError
    from junheng.settings import MetricsSettings
    from streams.app import create_app
    from streams.facts_table import FACTS_TABLE
    from streams.kafka_config import WorkerConfig, default_app_id, default_worker_id

    settings = KafkaSettings()
    events = settings.topic("events")
    try:  # a refused login, an untrusted certificate, a missing ACL: one line, no password, exit 2
        metrics_port = args.metrics_port if args.metrics_port is not None else MetricsSettings.from_env().port
        if not 0 <= metrics_port <= 65535:
            raise UserError(f"--metrics-port must be between 0 (off) and 65535, got {metrics_port}")
        preflight(settings)
        if not args.no_create_topics:
            status = create_topics(settings, partitions=args.partitions, replication_factor=args.replication_factor)
            created = [t for t, s in status.items() if s == "created"]
            if created:
                log.info("created topics %s", created)
        partitions = topic_partitions(settings, events)
    except (UserError, ValueError) as exc:
        log.error("%s", redact(str(exc), settings))
        return UserError.exit_code
    except KafkaError as exc:
        log.error("Kafka at %s: %s: %s", settings.bootstrap_servers, type(exc).__name__, redact(str(exc), settings))
        return 1
    if partitions is None:
        log.error("events topic %s does not exist", events)
        return 2
    app_id = args.app_id or default_app_id(settings)
    changelog = f"{app_id}-{FACTS_TABLE}-changelog"
    have = topic_partitions(settings, changelog)
    if have is not None and have != partitions:
        log.error(
            "changelog %s has %d partitions but %s has %d: the table must be co-partitioned with the "
            "events topic (repartitioning moves districts; rebuild the table under a new --app-id)",
            changelog,
            have,
            events,
            partitions,
        )
        return 2
    config = WorkerConfig(
        warehouse=Path(args.warehouse),
        partitions=partitions,
        batch_size=args.batch_size,
        batch_seconds=args.batch_seconds,
        worker_id=args.worker_id or default_worker_id(),
        app_id=app_id,
        replication_factor=args.replication_factor,
        log_every_s=args.log_every,
        counts_file=Path(args.counts_file) if args.counts_file else None,
        catalogue=args.catalogue,
        standby_replicas=args.standby_replicas,
        session_timeout_s=args.session_timeout,
        gx=not args.no_gx,
        gx_child=not args.gx_in_process,
        fast_delivery=not args.plain_faust_delivery,
        max_loaded_districts=args.max_loaded_districts,
        log_dead_letters=args.log_dead_letters,
    )
    config.warehouse.mkdir(parents=True, exist_ok=True)
    from ingestion.jurisdiction import Jurisdiction, record
    from junheng.layout import WarehouseLayout

    try:  # the catalogue and district list this worker judges with, recorded in the warehouse
        jurisdiction = Jurisdiction.current(args.catalogue)
    except (UserError, ValueError) as exc:
        log.error("%s", exc)
        return UserError.exit_code
    changed = record(WarehouseLayout(config.warehouse), jurisdiction, by=f"junheng worker {config.worker_id}")
    log.info("jurisdiction: %s", jurisdiction.describe())
    if changed:
        log.warning("warehouse %s: %s", config.warehouse, changed)
    metrics = _metrics(engine_kind, args.catalogue) if metrics_port else None
    alerts = StreamAlerts(config.warehouse, metrics)
    app, runtime = create_app(settings, config, on_statuses=alerts.submit, metrics=metrics)
    served = None
    if metrics is not None:
        try:
            served = _serve_metrics(metrics, runtime, settings, app_id, events, metrics_port, args.ready_max_lag)
        except OSError as exc:
            log.error("%s (--metrics-port, JUNHENG_METRICS_PORT, JUNHENG_METRICS_BIND)", exc)
            runtime.close()
            alerts.close()
            return UserError.exit_code
    tune_gc()
    runtime.write_counts()
    log.info(
        "worker %s: app %s, events %s (%d partitions), batches of %d / %.1f s, warehouse %s",
        config.worker_id,
        app_id,
        events,
        partitions,
        config.batch_size,
        config.batch_seconds,
        config.warehouse,
    )

    import faust

    worker = faust.Worker(app, loglevel=args.loglevel, quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    else:  # pragma: no cover - execute_from_commandline always raises SystemExit
        code = 0
    finally:
        if runtime.status != "crashed":
            runtime.status = "stopped"
        runtime.log_counts()
        runtime.write_counts()
        runtime.close()
        alerts.close()
        if served is not None:
            for closing in served:
                closing.close()
    return code


def _metrics(engine_kind: str, catalogue: str | None) -> Any:
    from junheng import __version__
    from junheng.metrics import Metrics

    return Metrics(
        "worker",
        version=__version__,
        engine="compiled" if engine_kind == "mypyc" else "pure",
        catalogue=catalogue or junheng_settings.catalogue_name(),
    )


def _serve_metrics(
    metrics: Any, runtime: Any, settings: KafkaSettings, group: str, events: str, port: int, max_lag: int
) -> tuple[Any, Any]:
    """Start the group's lag poller and the metrics/health server; returns both, to close at exit."""
    from junheng.metrics import HealthServer
    from junheng.settings import MetricsSettings
    from streams.kafka_lag import LagPoller
    from streams.worker_metrics import WorkerHealth

    lag = LagPoller(settings, group, events)
    health = WorkerHealth(runtime, runtime.monitor, lag, max_lag)
    metrics.watch_worker(health.view())
    try:
        server = HealthServer(metrics, port, MetricsSettings.from_env().bind, alive=health.alive, ready=health.ready)
    except OSError:
        lag.close()
        raise
    log.info("metrics on %s/metrics, health on /healthz and /readyz", server.url)
    return server, lag


class StreamAlerts:
    """The worker's stream alerts (a district losing attainment, junheng/alerting), off the hot
    path: the pipeline hands each landed batch's status rows to :meth:`submit`, which queues them
    for one thread of their own and returns at once. If an evaluation fails, the next
    ``junheng alerts`` rebuilds the same state from the landing. Wired here, in the worker's entry,
    and nowhere else: the drivers do not import the alerting."""

    def __init__(self, warehouse: Path, metrics: Any = None) -> None:
        """`metrics`: the worker's (junheng/metrics.py), told what each evaluation fired and delivered."""
        from concurrent.futures import ThreadPoolExecutor

        from junheng.alerting.run import StreamAlerter, env_alertmanager_url, env_webhook_url

        self.alerter = StreamAlerter(
            warehouse, alertmanager_url=env_alertmanager_url(), webhook_url=env_webhook_url(), kafka=True
        )
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")
        self.metrics = metrics

    def submit(self, statuses: list[dict[str, Any]], applied: list[dict[str, Any]] | None = None) -> None:
        """`applied`: the batch's applied events (their ``occurred_at`` say when a district fell behind)."""
        self.pool.submit(self._evaluate, statuses, applied).add_done_callback(_log_failure)

    def _evaluate(self, statuses: list[dict[str, Any]], applied: list[dict[str, Any]] | None = None) -> Any:
        run = self.alerter.on_statuses(statuses, applied)
        if self.metrics is not None:
            self.metrics.record_alert_run(run)
        return run

    def close(self) -> None:
        """Let a queued evaluation finish, then close the delivery channels."""
        self.pool.shutdown(wait=True)
        self.alerter.close()


def _log_failure(future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("stream alert evaluation failed: %s: %s", type(exc).__name__, exc)


if __name__ == "__main__":
    sys.exit(main())
