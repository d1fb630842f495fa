"""Delivery of alerts: Alertmanager (v2 API), a plain JSON webhook, the Kafka ``alerts`` topic.

Every channel retries a bounded number of times (``RetryPolicy``: attempts, exponential backoff,
per-request timeout) and returns a :class:`DeliveryReport`; none raises. Permanent errors (an HTTP
4xx other than 408/429) are not retried.

Alertmanager. ``POST <url>/api/v2/alerts`` with a list of
``{labels, annotations, startsAt, endsAt, generatorURL}``. A firing alert is sent with ``endsAt``
= now + ``resend_ttl`` and re-sent (refreshed) by every evaluation while it is true; if the
evaluator stops, Alertmanager resolves it by itself after that time, as with Prometheus. A resolved
alert is sent with ``endsAt`` = its ``ends_at`` (now or in the past): that is how Alertmanager
resolves an alert. Alertmanager de-duplicates by its own label fingerprint; ``repeat_interval``
decides how often a still-firing group is notified again.

Webhook. ``POST <url>`` with ``{"version": "junheng.alerts/1", "status", "run_id", "evaluated_at",
"as_of", "alerts": [event, …]}`` — only state changes (fired, resolved), see docs/alerts.md.

Kafka. One message per state change to ``<prefix>.alerts``: key = ``alert_id`` (UTF-8), value = the
event as JSON (UTF-8, keys sorted). The producer is kafka-python's (idempotent, acks=all).

Receiver URLs. A ``user:pass@`` in an Alertmanager or webhook URL is sent as an ``Authorization:
Basic`` header (the URL is requested without it); a report's ``target`` and ``error`` show the URL
redacted (:mod:`streams.alerting.urls`), never its credentials, query values or token segments.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from streams.alerting.model import FIRING, Alert, rfc3339
from streams.alerting.urls import redact_url, scrub, split_credentials

ALERTMANAGER = "alertmanager"
WEBHOOK = "webhook"
KAFKA = "kafka"
WEBHOOK_VERSION = "junheng.alerts/1"
CHUNK = 500   # alerts per HTTP request


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.5          # doubled after every failed attempt
    timeout_s: float = 10.0         # per HTTP request / Kafka flush

    def delays(self) -> list[float]:
        return [self.backoff_s * (2 ** i) for i in range(max(0, self.attempts - 1))]


@dataclass
class DeliveryReport:
    channel: str
    target: str
    ok: bool
    sent: int = 0                   # items delivered
    attempts: int = 0
    error: str | None = None
    elapsed_s: float = 0.0
    delivered_ids: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "target": self.target, "ok": self.ok, "sent": self.sent,
                "attempts": self.attempts, "error": self.error, "elapsed_s": round(self.elapsed_s, 3)}


class PermanentError(Exception):
    """Not worth retrying (e.g. HTTP 400: the payload is wrong)."""


def _retry(policy: RetryPolicy, action: Callable[[], Any], sleep: Callable[[float], None] = time.sleep
           ) -> tuple[bool, int, str | None]:
    delays = policy.delays()
    error = None
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            action()
            return True, attempt, None
        except PermanentError as exc:
            return False, attempt, str(exc)
        except Exception as exc:   # network, HTTP 5xx, Kafka: retried
            error = f"{type(exc).__name__}: {exc}"
        if attempt <= len(delays):
            sleep(delays[attempt - 1])
    return False, max(1, policy.attempts), error


def post_json(url: str, payload: Any, timeout_s: float, headers: Mapping[str, str] | None = None) -> int:
    """POST ``payload`` as JSON; a ``user:pass@`` in ``url`` goes as a Basic header. Errors name the
    URL redacted."""
    url, auth = split_credentials(url)
    headers = {**auth, **(headers or {})}
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "junheng-alerts/1",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise PermanentError(f"HTTP {exc.code} from {redact_url(url)}: {detail}") from None
        raise RuntimeError(f"HTTP {exc.code} from {redact_url(url)}: {detail}") from None


def get_json(url: str, timeout_s: float = 10.0) -> Any:
    url, auth = split_credentials(url)
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json", **auth}),
                                timeout=timeout_s) as resp:
        return json.loads(resp.read())


# ---------------------------------------------------------------------- Alertmanager
def alertmanager_item(alert: Alert, *, now: dt.datetime, resend_ttl: dt.timedelta, generator_url: str = ""
                      ) -> dict[str, Any]:
    """One alert in Alertmanager's v2 ``postableAlert`` shape."""
    if alert.state == FIRING:
        ends = now + resend_ttl
    else:
        ends = min(alert.ends_at or now, now)
    item: dict[str, Any] = {"labels": alert.labels, "annotations": alert.annotations,
                            "startsAt": rfc3339(alert.starts_at or now), "endsAt": rfc3339(ends)}
    if generator_url:
        item["generatorURL"] = generator_url
    return item


class AlertmanagerClient:
    """Alertmanager's v2 API. `url` is the base (``http://host:9093``, with any route prefix)."""

    def __init__(self, url: str, retry: RetryPolicy | None = None, headers: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        base = url.rstrip("/")
        for suffix in ("/api/v2/alerts", "/api/v2"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        self.base = base
        self.retry = retry or RetryPolicy()
        self.headers = dict(headers or {})
        self.sleep = sleep

    def post(self, items: Sequence[dict[str, Any]]) -> DeliveryReport:
        start = time.perf_counter()
        report = DeliveryReport(ALERTMANAGER, redact_url(self.base), True)
        for i in range(0, len(items), CHUNK):
            chunk = list(items[i:i + CHUNK])
            ok, attempts, error = _retry(self.retry, lambda: post_json(
                f"{self.base}/api/v2/alerts", chunk, self.retry.timeout_s, self.headers), self.sleep)
            report.attempts += attempts
            if not ok:
                report.ok, report.error = False, scrub(error, self.base)
                break
            report.sent += len(chunk)
            report.delivered_ids += [c["annotations"].get("alert_id", "") for c in chunk]
        report.elapsed_s = time.perf_counter() - start
        return report

    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (active, silenced, inhibited, unprocessed: Alertmanager's defaults)."""
        query = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in filters.items())
        return list(get_json(f"{self.base}/api/v2/alerts" + (f"?{query}" if query else ""), self.retry.timeout_s))

    def groups(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.base}/api/v2/alerts/groups", self.retry.timeout_s))

    def ready(self) -> bool:
        try:
            url, auth = split_credentials(f"{self.base}/-/ready")
            request = urllib.request.Request(url, headers=auth)
            with urllib.request.urlopen(request, timeout=self.retry.timeout_s) as resp:
                return int(resp.status) == 200
        except Exception:
            return False


# ---------------------------------------------------------------------- webhook
def webhook_payload(events: Sequence[Mapping[str, Any]], *, run_id: str, evaluated_at: dt.datetime,
                    as_of: dt.date | None) -> dict[str, Any]:
    return {"version": WEBHOOK_VERSION, "source": "junheng",
            "status": FIRING if any(e["status"] == FIRING for e in events) else "resolved",
            "run_id": run_id, "evaluated_at": rfc3339(evaluated_at), "as_of": as_of.isoformat() if as_of else None,
            "alerts": list(events)}


class WebhookClient:
    def __init__(self, url: str, retry: RetryPolicy | None = None, headers: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.retry = retry or RetryPolicy()
        self.headers = dict(headers or {})
        self.sleep = sleep

    def post(self, events: Sequence[Mapping[str, Any]], *, run_id: str, evaluated_at: dt.datetime,
             as_of: dt.date | None) -> DeliveryReport:
        start = time.perf_counter()
        report = DeliveryReport(WEBHOOK, redact_url(self.url), True)
        for i in range(0, len(events), CHUNK):
            chunk = list(events[i:i + CHUNK])
            payload = webhook_payload(chunk, run_id=run_id, evaluated_at=evaluated_at, as_of=as_of)
            ok, attempts, error = _retry(self.retry, lambda: post_json(
                self.url, payload, self.retry.timeout_s, {"X-Junheng-Run": run_id, **self.headers}), self.sleep)
            report.attempts += attempts
            if not ok:
                report.ok, report.error = False, scrub(error, self.url)
                break
            report.sent += len(chunk)
            report.delivered_ids += [e["event_id"] for e in chunk]
        report.elapsed_s = time.perf_counter() - start
        return report


# ---------------------------------------------------------------------- Kafka
def kafka_message(event: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) of an alert event on the alerts topic."""
    return (event["alert_id"].encode("utf-8"),
            json.dumps(event, ensure_ascii=False, sort_keys=True).encode("utf-8"))


class KafkaAlertSink:
    """Sends alert events to ``<prefix>.alerts``; the producer is made on first use and kept."""

    def __init__(self, settings: Any = None, topic: str | None = None, retry: RetryPolicy | None = None,
                 producer: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        from junheng.settings import KafkaSettings

        self.settings = settings or KafkaSettings()
        self.topic = topic or self.settings.topic("alerts")
        self.retry = retry or RetryPolicy()
        self._producer = producer
        self.sleep = sleep

    def producer(self) -> Any:
        if self._producer is None:
            from ingestion.producer import make_producer

            block_ms = int(self.retry.timeout_s * 1000)
            self._producer = make_producer(self.settings, client_id="junheng-alerts", linger_ms=0,
                                           max_block_ms=block_ms, request_timeout_ms=block_ms,
                                           delivery_timeout_ms=max(block_ms + 1000, 2 * block_ms))
        return self._producer

    def send(self, events: Sequence[Mapping[str, Any]]) -> DeliveryReport:
        start = time.perf_counter()
        report = DeliveryReport(KAFKA, self.topic, True)
        remaining = list(events)

        def attempt() -> None:
            nonlocal remaining
            producer = self.producer()
            futures = []
            for e in remaining:
                key, value = kafka_message(e)
                futures.append((e, producer.send(self.topic, key=key, value=value)))
            producer.flush(timeout=self.retry.timeout_s)
            failed, first = [], None
            for e, fut in futures:
                try:
                    fut.get(timeout=self.retry.timeout_s)
                    report.sent += 1
                    report.delivered_ids.append(e["event_id"])
                except Exception as exc:
                    failed.append(e)
                    first = first or exc
            remaining = failed
            if failed:
                raise RuntimeError(f"{len(failed)} of {len(futures)} messages to {self.topic} failed: "
                                   f"{type(first).__name__}: {first}")

        if remaining:
            ok, attempts, error = _retry(self.retry, attempt, self.sleep)
            report.ok, report.attempts, report.error = ok, attempts, error
        report.elapsed_s = time.perf_counter() - start
        return report

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=self.retry.timeout_s)
            except Exception:
                pass
            self._producer = None
