"""Run the Kafka worker: the Faust app of streams/app.py, from the command line, with its stream alerts.

    python -m junheng.worker --warehouse DIR [--batch-size 5000] [--batch-seconds 0.2]

Connection, security and topic names come from the JUNHENG_KAFKA_* and JUNHENG_TOPIC_PREFIX
environment variables (junheng/settings.py). The worker creates the project's topics if they
are missing (idempotent; Faust would silently ignore a missing source topic), then consumes the
events topic until SIGTERM/SIGINT. It logs its running counts every --log-every seconds and
writes them after every batch to <warehouse>/worker-counts.json (or --counts-file):
read = applied + duplicate + stale + dead_lettered.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from junheng import settings as junheng_settings
from junheng.settings import KafkaSettings
from streams.runtime import tune_gc

log = logging.getLogger("junheng.worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="junheng worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", default=str(junheng_settings.default_warehouse()),
                        help="landing/ goes here, and worker-counts.json (default: JUNHENG_WAREHOUSE or ./warehouse)")
    parser.add_argument("--batch-size", type=int, default=5000, help="events per micro-batch at most (5000)")
    parser.add_argument("--no-gx", action="store_true", help="skip the Great Expectations micro-batch suites")
    parser.add_argument("--gx-in-process", action="store_true",
                        help="run the suites in the worker process (default: in a child process, so "
                             "they use the second core while the event loop goes on)")
    parser.add_argument("--plain-faust-delivery", action="store_true",
                        help="hand each record to the agent through Faust's own wait_first (four tasks "
                             "a record) instead of the fast path of streams/fast_delivery.py; to compare")
    parser.add_argument("--batch-seconds", type=float, default=0.2,
                        help="a micro-batch closes after this many seconds even when not full (0.2): "
                             "the window is part of every event's latency")
    parser.add_argument("--worker-id", help="names this worker's landing files (default: <host>_<pid>)")
    parser.add_argument("--app-id", help="Faust app id = consumer group and changelog prefix "
                                         "(default: <JUNHENG_TOPIC_PREFIX>-worker)")
    parser.add_argument("--partitions", type=int, default=4,
                        help="partitions of the events topic if the worker has to create it (4)")
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--no-create-topics", action="store_true",
                        help="do not create missing topics (e.g. no admin rights); the events topic must exist")
    parser.add_argument("--standby-replicas", type=int, default=1, help="Faust table standby replicas (1)")
    parser.add_argument("--session-timeout", type=float, default=60.0,
                        help="seconds before the group gives a silent (crashed) worker's partitions to "
                             "another (60; the broker allows 6-300 by default)")
    parser.add_argument("--max-loaded-districts", type=int, default=junheng_settings.settings().max_loaded_districts,
                        help="district states kept in memory between batches; colder ones are rebuilt from "
                             "the facts table when needed (JUNHENG_MAX_LOADED_DISTRICTS, 128)")
    parser.add_argument("--log-every", type=float, default=10.0, help="seconds between count log lines (10)")
    parser.add_argument("--counts-file", help="default: <warehouse>/worker-counts.json")
    parser.add_argument("--catalogue", help="rules catalogue (default: JUNHENG_CATALOGUE or qingdao-2021)")
    parser.add_argument("--log-dead-letters", action="store_true",
                        help="log every dead letter (origin, event id, reason) at INFO, not only its count "
                             "(the fault tests turn it on so a failed run shows why each one was rejected)")
    parser.add_argument("--loglevel", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from junheng.compiled_engine import install as install_engine

    engine_kind = install_engine()  # before anything imports rules
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.loglevel.upper(), format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    log.info("rules engine: %s", engine_kind)
    for name in ("kafka", "aiokafka"):  # connection chatter at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    from kafka.errors import KafkaError

    from ingestion.kafka_access import preflight, redact
    from ingestion.producer import create_topics, topic_partitions
    from junheng.errors import UserError
    from streams.app import create_app
    from streams.facts_table import FACTS_TABLE
    from streams.kafka_config import WorkerConfig, default_app_id, default_worker_id

    settings = KafkaSettings()
    events = settings.topic("events")
    try:   # a refused login, an untrusted certificate, a missing ACL: one line, no password, exit 2
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
        log.error("changelog %s has %d partitions but %s has %d: the table must be co-partitioned with the "
                  "events topic (repartitioning moves districts; rebuild the table under a new --app-id)",
                  changelog, have, events, partitions)
        return 2
    config = WorkerConfig(warehouse=Path(args.warehouse), partitions=partitions, batch_size=args.batch_size,
                          batch_seconds=args.batch_seconds, worker_id=args.worker_id or default_worker_id(),
                          app_id=app_id, replication_factor=args.replication_factor, log_every_s=args.log_every,
                          counts_file=Path(args.counts_file) if args.counts_file else None,
                          catalogue=args.catalogue, standby_replicas=args.standby_replicas,
                          session_timeout_s=args.session_timeout, gx=not args.no_gx,
                          gx_child=not args.gx_in_process, fast_delivery=not args.plain_faust_delivery,
                          max_loaded_districts=args.max_loaded_districts,
                          log_dead_letters=args.log_dead_letters)
    config.warehouse.mkdir(parents=True, exist_ok=True)
    alerts = StreamAlerts(config.warehouse)
    app, runtime = create_app(settings, config, on_statuses=alerts.submit)
    tune_gc()
    runtime.write_counts()
    log.info("worker %s: app %s, events %s (%d partitions), batches of %d / %.1f s, warehouse %s",
             config.worker_id, app_id, events, partitions, config.batch_size, config.batch_seconds,
             config.warehouse)

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
    return code


class StreamAlerts:
    """The worker's stream alerts (a district losing attainment, junheng/alerting), off the hot
    path: the pipeline hands each landed batch's status rows to :meth:`submit`, which queues them
    for one thread of their own and returns at once. If an evaluation fails, the next
    ``junheng alerts`` rebuilds the same state from the landing. Wired here, in the worker's entry,
    and nowhere else: the drivers do not import the alerting."""

    def __init__(self, warehouse: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from junheng.alerting.run import StreamAlerter, env_alertmanager_url, env_webhook_url

        self.alerter = StreamAlerter(warehouse, alertmanager_url=env_alertmanager_url(),
                                     webhook_url=env_webhook_url(), kafka=True)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")

    def submit(self, statuses: list[dict[str, Any]]) -> None:
        self.pool.submit(self.alerter.on_statuses, statuses).add_done_callback(_log_failure)

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
