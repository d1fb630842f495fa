"""One alert evaluation end to end: read the sources, step the AlertBook, land the history, deliver.

    evaluate_and_send(warehouse, as_of=…, alertmanager_url=…, webhook_url=…, kafka=…)   # `junheng alerts`
    StreamAlerter(warehouse, …).on_statuses(result.statuses)                            # the worker hook

An evaluation has three phases, so a slow or dead receiver never holds the book:

1. under the book lock (``<warehouse>/alerts/state.json.lock``): read the sources, step the book,
   land the state changes as history (``landing/alert_events``), queue them in each configured
   channel's outbox, save the book;
2. without the lock: deliver — Alertmanager gets every firing alert (refresh) plus the resolved
   ones not yet delivered; the webhook and Kafka get the queued state changes;
3. under the lock again: drop what was delivered from the outboxes (what failed stays and is
   retried by the next evaluation — at least once, so a receiver de-duplicates by ``event_id``).

Nothing in here raises for a delivery or source problem: it is reported in the returned
:class:`AlertRun` (``ok``, ``errors``, ``deliveries``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junheng.alerting.behind import LandedHistory, read_landed, with_event_times
from junheng.alerting.book import (
    DEFAULT_RETENTION,
    AlertBook,
    Changes,
    Covers,
    book_lock,
    covers_sources,
    load_book,
    save_book,
    state_path,
)
from junheng.alerting.delivery import (
    ALERTMANAGER,
    KAFKA,
    WEBHOOK,
    AlertmanagerClient,
    DeliveryReport,
    KafkaAlertSink,
    ReceiverAuth,
    RetryPolicy,
    WebhookClient,
    alertmanager_item,
    kafka_message,
)
from junheng.alerting.describe import RuleBook
from junheng.alerting.history import AlertEventWriter
from junheng.alerting.model import MARTS, RESOLVED, STREAM, Alert, alert_event, utcnow
from junheng.alerting.sources import (
    ATTAINMENT_MEMORY,
    SourceResult,
    apply_statuses,
    attainment_alerts,
    district_names,
    read_marts,
)
from junheng.layout import WarehouseLayout
from junheng.settings import AlertSettings

log = logging.getLogger("junheng.alerting")

DEFAULT_RESEND_TTL = dt.timedelta(hours=6)


@dataclass
class AlertConfig:
    """Knobs of an evaluation; the defaults suit a cron job running `junheng alerts` hourly."""

    resend_ttl: dt.timedelta = DEFAULT_RESEND_TTL  # firing alerts' endsAt in Alertmanager = now + this
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    generator_url: str | None = None  # e.g. "https://bi.example/alerts?id={alert_id}"; none by default
    marts: bool = True  # read the marts (evaluate_and_send)
    stream: bool = True  # read the landed district status rows (evaluate_and_send)
    years: Sequence[int] | None = None  # statistical years to judge instead of the current-year window
    retention: dt.timedelta = DEFAULT_RETENTION
    kafka_settings: Any = None  # junheng.settings.KafkaSettings; default from the environment
    kafka_topic: str | None = None  # default <prefix>.alerts
    lock_timeout_s: float = 120.0
    landing: Path | None = None  # default <warehouse>/landing
    duckdb_path: Path | None = None  # default <warehouse>/junheng.duckdb
    marts_attempts: int = 5  # opening the DuckDB file while dbt writes it: tries …
    marts_wait_s: float = 1.0  # … waiting this long times the attempt number between them
    rulebook: RuleBook | None = None
    now: Callable[[], dt.datetime] = utcnow
    # receivers' credentials and CA: always the environment's (JUNHENG_ALERT_WEBHOOK_TOKEN, …), like their URLs
    webhook_auth: ReceiverAuth = field(default_factory=ReceiverAuth.webhook_from_env)
    alertmanager_auth: ReceiverAuth = field(default_factory=ReceiverAuth.alertmanager_from_env)

    def generator_url_for(self, alert_id: str) -> str:
        return self.generator_url.format(alert_id=alert_id) if self.generator_url else ""

    @classmethod
    def from_env(cls, **overrides: Any) -> AlertConfig:
        """The alert settings of junheng.settings (JUNHENG_ALERT_RESEND_TTL, _GENERATOR_URL, _RETRIES)."""
        s = AlertSettings.from_env()
        kw: dict[str, Any] = {
            "resend_ttl": dt.timedelta(seconds=s.resend_ttl_s),
            "generator_url": s.generator_url,
            "retry": RetryPolicy(attempts=s.retries),
        }
        kw.update(overrides)
        return cls(**kw)


def env_alertmanager_url() -> str | None:
    return AlertSettings.from_env().alertmanager_url


def env_webhook_url() -> str | None:
    return AlertSettings.from_env().webhook_url


@dataclass
class AlertRun:
    """What one evaluation found, changed, landed and delivered."""

    run_id: str
    kind: str  # "full" (evaluate_and_send) or "stream" (worker hook)
    as_of: dt.date | None
    evaluated_at: dt.datetime
    fired: list[Alert] = field(default_factory=list)
    repeated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    firing: list[Alert] = field(default_factory=list)  # every alert firing after the evaluation
    events: list[dict[str, Any]] = field(default_factory=list)  # the state changes (history rows)
    sources: dict[str, SourceResult] = field(default_factory=dict)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    history_file: Path | None = None
    state_file: Path | None = None
    pending: dict[str, int] = field(default_factory=dict)  # undelivered events left per channel
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: the channels configured for the delivery (a run with receivers may have nothing new to send)
    receivers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every source was read, the history landed and every delivery succeeded."""
        return not self.errors and all(d.ok for d in self.deliveries)

    def messages(self) -> list[tuple[bytes, bytes]]:
        """The state changes as Kafka (key, value) pairs — for a caller with its own producer."""
        return [kafka_message(e) for e in self.events]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "evaluated_at": self.evaluated_at.isoformat(),
            "ok": self.ok,
            "counts": {
                "fired": len(self.fired),
                "repeated": len(self.repeated),
                "resolved": len(self.resolved),
                "firing": len(self.firing),
            },
            "fired": [_brief(a) for a in self.fired],
            "resolved": [_brief(a) for a in self.resolved],
            "sources": {k: v.as_dict() for k, v in self.sources.items()},
            "deliveries": [d.as_dict() for d in self.deliveries],
            "receivers": self.receivers,
            "history_file": str(self.history_file) if self.history_file else None,
            "state_file": str(self.state_file) if self.state_file else None,
            "pending": self.pending,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def _brief(a: Alert) -> dict[str, Any]:
    return {
        "alert_id": a.alert_id,
        "alertname": a.alertname,
        "district_code": a.district_code,
        "rule_id": a.rule_id,
        "year": a.year,
        "severity": a.severity,
        "summary": a.summary,
    }


# ---------------------------------------------------------------------- the engine
Gather = Callable[[AlertBook], tuple[list[Alert], Covers, dict[str, SourceResult]]]


@dataclass
class _Channels:
    alertmanager: AlertmanagerClient | None = None
    webhook: WebhookClient | None = None
    kafka: KafkaAlertSink | None = None

    def event_channels(self) -> list[str]:
        return [name for name, c in ((WEBHOOK, self.webhook), (KAFKA, self.kafka)) if c is not None]


def _am_item_from_event(event: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    ends = event.get("endsAt") or now.isoformat()
    item = {
        "labels": event["labels"],
        "annotations": event["annotations"],
        "startsAt": event["startsAt"],
        "endsAt": ends,
    }
    if event.get("generatorURL"):
        item["generatorURL"] = event["generatorURL"]
    return item


@dataclass
class PendingAlerts:
    """An evaluation whose state changes are landed and queued but not yet delivered (phases 2
    and 3 of the module docstring). A build delivers only once its marts passed the checkpoint;
    whatever it never delivers stays queued in the book and goes out with the next evaluation."""

    run: AlertRun
    warehouse: Path
    channels: _Channels
    config: AlertConfig
    firing: list[Alert]
    pending: dict[str, list[dict[str, Any]]]
    now: dt.datetime
    refresh: Callable[[Alert], bool]
    owns_channels: bool = True  # one-shot evaluations close them; the worker's hook keeps its own
    delivered: bool = False

    def deliver(self) -> AlertRun:
        """Deliver what the evaluation queued, forget what was delivered; the run, completed."""
        if not self.delivered:
            self.delivered = True
            try:
                _deliver(self)
            finally:
                self.close()
        return self.run

    def close(self) -> None:
        """Release the channels without delivering (a build that publishes nothing)."""
        if self.owns_channels and self.channels.kafka is not None:
            self.channels.kafka.close()


def _evaluate(
    warehouse: Path,
    *,
    kind: str,
    as_of: dt.date | None,
    gather: Gather,
    channels: _Channels,
    config: AlertConfig,
    refresh: Callable[[Alert], bool],
) -> AlertRun:
    pending = _evaluate_only(
        warehouse, kind=kind, as_of=as_of, gather=gather, channels=channels, config=config, refresh=refresh
    )
    pending.owns_channels = False
    return pending.deliver()


def _evaluate_only(
    warehouse: Path,
    *,
    kind: str,
    as_of: dt.date | None,
    gather: Gather,
    channels: _Channels,
    config: AlertConfig,
    refresh: Callable[[Alert], bool],
) -> PendingAlerts:
    """Phase 1: evaluate, land the history, queue the changes in the book's outboxes."""
    now = config.now()
    run = AlertRun(
        run_id=uuid.uuid4().hex[:16], kind=kind, as_of=as_of, evaluated_at=now, state_file=state_path(warehouse)
    )
    path = run.state_file
    assert path is not None
    landing = config.landing or WarehouseLayout(warehouse).landing

    gen_url = config.generator_url_for

    # ---- phase 1: evaluate, land, queue (locked)
    with book_lock(path, config.lock_timeout_s):
        book = load_book(path)
        current, covers, sources = gather(book)
        run.sources = sources
        for name, src in sources.items():
            run.warnings += [f"source {name}: {w}" for w in src.warnings]
            if not src.ok:
                run.errors.append(f"source {name} unavailable, its alerts kept as they were: {src.detail}")
        changes: Changes = book.evaluate(current, now, covers=covers)
        run.fired, run.repeated, run.resolved = changes.fired, changes.repeated, changes.resolved
        run.events = [
            alert_event(a, evaluated_at=now, run_id=run.run_id, as_of=as_of, generator_url=gen_url(a.alert_id))
            for a in changes.changed
        ]
        try:
            if run.events:
                run.history_file = AlertEventWriter(landing).write_events(run.events)
        except Exception as exc:  # disk full, permissions: report, still deliver
            run.errors.append(f"landing the alert history failed: {type(exc).__name__}: {exc}")
            log.exception("landing the alert history failed")
        for channel in channels.event_channels():
            dropped = book.enqueue(channel, run.events)
            if dropped:
                run.warnings.append(f"{channel}: outbox full, {dropped} oldest undelivered events dropped")
        if channels.alertmanager is not None:
            book.enqueue(ALERTMANAGER, [e for e in run.events if e["status"] == RESOLVED])
        book.prune(now, config.retention)
        firing_now = book.firing()
        run.firing = firing_now
        pending = {
            ch: book.pending(ch)
            for ch in [*channels.event_channels(), *([ALERTMANAGER] if channels.alertmanager else [])]
        }
        save_book(book, path)
    return PendingAlerts(run, warehouse, channels, config, firing_now, pending, now, refresh)


def _deliver(p: PendingAlerts) -> None:
    """Phases 2 (deliver, unlocked) and 3 (forget what was delivered, locked)."""
    run, channels, config, now, firing_now, pending, refresh = (
        p.run,
        p.channels,
        p.config,
        p.now,
        p.firing,
        p.pending,
        p.refresh,
    )
    path = run.state_file
    assert path is not None

    gen_url = config.generator_url_for
    run.receivers = [
        name
        for name, c in ((ALERTMANAGER, channels.alertmanager), (WEBHOOK, channels.webhook), (KAFKA, channels.kafka))
        if c is not None
    ]
    delivered: dict[str, list[str]] = {}
    if channels.alertmanager is not None:
        firing_ids = {a.alert_id for a in firing_now}
        items = [
            alertmanager_item(a, now=now, resend_ttl=config.resend_ttl, generator_url=gen_url(a.alert_id))
            for a in firing_now
            if refresh(a)
        ]
        resolved_events = [e for e in pending[ALERTMANAGER] if e["alert_id"] not in firing_ids]
        items += [_am_item_from_event(e, now) for e in resolved_events]
        if items:
            report = channels.alertmanager.post(items)
            run.deliveries.append(report)
            if report.ok:
                delivered[ALERTMANAGER] = [e["event_id"] for e in pending[ALERTMANAGER]]
        else:
            delivered[ALERTMANAGER] = [e["event_id"] for e in pending[ALERTMANAGER]]
    if channels.webhook is not None and pending.get(WEBHOOK):
        report = channels.webhook.post(pending[WEBHOOK], run_id=run.run_id, evaluated_at=now, as_of=run.as_of)
        run.deliveries.append(report)
        delivered[WEBHOOK] = report.delivered_ids
    if channels.kafka is not None and pending.get(KAFKA):
        report = channels.kafka.send(pending[KAFKA])
        run.deliveries.append(report)
        delivered[KAFKA] = report.delivered_ids
    for d in run.deliveries:
        if not d.ok:
            log.warning(
                "alert delivery to %s (%s) failed after %d attempts: %s", d.channel, d.target, d.attempts, d.error
            )

    # ---- phase 3: forget what was delivered (locked)
    with book_lock(path, config.lock_timeout_s):
        book = load_book(path)
        for channel, ids in delivered.items():
            book.delivered(channel, ids)
        run.pending = {ch: len(book.pending(ch)) for ch in book.outbox if book.pending(ch)}
        if book.dropped:
            run.warnings += [
                f"{ch}: {n} undelivered events were dropped so far (outbox limit)"
                for ch, n in sorted(book.dropped.items())
            ]
        save_book(book, path)


def _channels(
    alertmanager_url: str | None,
    webhook_url: str | None,
    kafka: bool,
    config: AlertConfig,
    kafka_sink: KafkaAlertSink | None = None,
) -> _Channels:
    return _Channels(
        alertmanager=(
            AlertmanagerClient(alertmanager_url, config.retry, auth=config.alertmanager_auth)
            if alertmanager_url
            else None
        ),
        webhook=WebhookClient(webhook_url, config.retry, auth=config.webhook_auth) if webhook_url else None,
        kafka=(kafka_sink or KafkaAlertSink(config.kafka_settings, config.kafka_topic, config.retry))
        if kafka
        else None,
    )


# ---------------------------------------------------------------------- entry points
def evaluate_and_send(
    warehouse: Path,
    *,
    as_of: dt.date,
    alertmanager_url: str | None,
    webhook_url: str | None,
    kafka: bool,
    config: AlertConfig | None = None,
) -> AlertRun:
    """Evaluate every source against the warehouse and deliver the result (``junheng alerts``):
    :func:`evaluate`, then its :meth:`PendingAlerts.deliver`."""
    return evaluate(
        warehouse, as_of=as_of, alertmanager_url=alertmanager_url, webhook_url=webhook_url, kafka=kafka, config=config
    ).deliver()


def evaluate(
    warehouse: Path,
    *,
    as_of: dt.date,
    alertmanager_url: str | None,
    webhook_url: str | None,
    kafka: bool,
    config: AlertConfig | None = None,
) -> PendingAlerts:
    """Evaluate every source against the warehouse, land the history and queue the changes;
    deliver them with the result's :meth:`~PendingAlerts.deliver` (a build does once its marts
    passed their checkpoint).

    Sources: the marts (``<warehouse>/junheng.duckdb``, read-only) judged for `as_of`, and the
    landed district status rows (the stream's DistrictAttainmentLost, driver-independent).
    Channels: Alertmanager at `alertmanager_url`, the JSON webhook at `webhook_url`, the Kafka
    ``alerts`` topic when `kafka`. None configured: evaluate, land the history, keep the state."""
    warehouse = Path(warehouse)
    config = config or AlertConfig()
    landing = config.landing or WarehouseLayout(warehouse).landing
    rulebook = config.rulebook

    def gather(book: AlertBook) -> tuple[list[Alert], Covers, dict[str, SourceResult]]:
        sources: dict[str, SourceResult] = {}
        current: list[Alert] = []
        covered: list[str] = []
        if config.marts:
            src = read_marts(
                config.duckdb_path or WarehouseLayout(warehouse).database,
                as_of=as_of,
                years=config.years,
                rulebook=rulebook,
                attempts=config.marts_attempts,
                wait_s=config.marts_wait_s,
            )
            sources[MARTS] = src
            if src.ok:
                current += src.alerts
                covered.append(MARTS)
        landed: LandedHistory | None = None
        try:  # the status rows with their event times: the stream's source, and when districts fell behind
            landed = read_landed(landing) if config.stream or config.marts else None
        except Exception as exc:  # unreadable is not empty: its alerts are kept as they were
            detail = f"reading {landing}/district_status failed: {exc}"
            if config.stream:
                sources[STREAM] = SourceResult(STREAM, False, detail=detail)
            else:
                log.warning("%s; alerts fell behind since unknown", detail)
        rows = landed.statuses if landed is not None else None
        if config.stream:
            if STREAM in sources:
                pass  # the read failed: reported above, nothing covered
            elif rows is None:
                sources[STREAM] = SourceResult(
                    STREAM, False, detail=f"no district status landed under {landing}/district_status yet"
                )
                if not book.memory.get(ATTAINMENT_MEMORY):
                    sources[STREAM].ok = True  # nothing landed and nothing remembered: simply empty
                    covered.append(STREAM)
            else:
                memory: dict[str, Any] = {}
                apply_statuses(memory, rows)
                book.memory[ATTAINMENT_MEMORY] = memory[ATTAINMENT_MEMORY]
                alerts = attainment_alerts(
                    memory, names=district_names(), rulebook=rulebook or RuleBook.from_catalogue()
                )
                sources[STREAM] = SourceResult(STREAM, True, alerts, f"{len(rows)} status rows", len(rows))
                current += alerts
                covered.append(STREAM)
        if landed is not None:
            landed.attach(current)
        return current, covers_sources(*covered), sources

    channels = _channels(alertmanager_url, webhook_url, kafka, config)
    try:
        return _evaluate_only(
            warehouse, kind="full", as_of=as_of, gather=gather, channels=channels, config=config, refresh=lambda a: True
        )
    except BaseException:
        if channels.kafka is not None:
            channels.kafka.close()
        raise


class StreamAlerter:
    """The worker hook: turns each batch's district status rows into DistrictAttainmentLost
    alerts at once, through the same book as ``junheng alerts`` (same ids, no duplicates).

    Blocking (file lock, HTTP, kafka-python): from the Faust agent call it in an executor,
    after the batch was landed::

        await loop.run_in_executor(None, alerter.on_statuses, merged.statuses)
    """

    def __init__(
        self,
        warehouse: Path,
        *,
        alertmanager_url: str | None = None,
        webhook_url: str | None = None,
        kafka: bool = False,
        config: AlertConfig | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.warehouse = Path(warehouse)
        self.config = config or AlertConfig()
        self.names = dict(names) if names is not None else district_names()
        self.rulebook = self.config.rulebook or RuleBook.from_catalogue()
        self.channels = _channels(alertmanager_url, webhook_url, kafka, self.config)

    def on_statuses(
        self, statuses: Sequence[Mapping[str, Any]], applied: Sequence[Mapping[str, Any]] | None = None
    ) -> AlertRun | None:
        """Evaluate one batch's status rows (None when the batch changed no status). `applied`: the
        batch's applied events, so an alert knows when its district fell behind (their latest
        ``occurred_at``); without them ``fell_behind_at`` is filled by the next ``junheng alerts``."""
        if not statuses:
            return None
        if applied is not None:
            statuses = with_event_times(statuses, applied)

        def gather(book: AlertBook) -> tuple[list[Alert], Covers, dict[str, SourceResult]]:
            apply_statuses(book.memory, statuses)
            alerts = attainment_alerts(book.memory, names=self.names, rulebook=self.rulebook)
            return (
                alerts,
                covers_sources(STREAM),
                {STREAM: SourceResult(STREAM, True, alerts, f"{len(statuses)} status rows", len(statuses))},
            )

        try:
            return _evaluate(
                self.warehouse,
                kind="stream",
                as_of=None,
                gather=gather,
                channels=self.channels,
                config=self.config,
                refresh=lambda a: a.source == STREAM,
            )
        except Exception as exc:  # never take the worker down for an alert
            log.exception("stream alert evaluation failed")
            run = AlertRun(run_id=uuid.uuid4().hex[:16], kind="stream", as_of=None, evaluated_at=self.config.now())
            run.errors.append(f"{type(exc).__name__}: {exc}")
            return run

    def close(self) -> None:
        if self.channels.kafka is not None:
            self.channels.kafka.close()


__all__ = [
    "AlertConfig",
    "AlertRun",
    "PendingAlerts",
    "StreamAlerter",
    "evaluate",
    "evaluate_and_send",
    "env_alertmanager_url",
    "env_webhook_url",
]
