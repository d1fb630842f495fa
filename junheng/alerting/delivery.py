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
redacted (:mod:`junheng.alerting.urls`), never its credentials, query values or token segments.

Receiver credentials and TLS (:class:`ReceiverAuth`, from the environment: ``JUNHENG_ALERT_WEBHOOK_TOKEN``
or ``…_WEBHOOK_USERNAME``/``…_PASSWORD``, ``JUNHENG_ALERTMANAGER_USERNAME``/``…_PASSWORD``,
``JUNHENG_ALERT_CAFILE``): a bearer token or basic auth goes in the ``Authorization`` header, over the
URL's own ``user:pass@``; HTTPS receivers are verified against the CA file (the system's CAs without
one). A receiver that refuses the credentials (401/403) or whose certificate does not verify is a
permanent error, not retried: the events stay queued for the next evaluation, so a token rotated on
the receiver first loses nothing. No token or password appears in a report, a log or the history.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from junheng.alerting.model import FIRING, Alert, rfc3339
from junheng.alerting.urls import redact_url, scrub, split_credentials

ALERTMANAGER = "alertmanager"
WEBHOOK = "webhook"
KAFKA = "kafka"
WEBHOOK_VERSION = "junheng.alerts/1"
CHUNK = 500  # alerts per HTTP request


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.5  # doubled after every failed attempt
    timeout_s: float = 10.0  # per HTTP request / Kafka flush

    def delays(self) -> list[float]:
        return [self.backoff_s * (2**i) for i in range(max(0, self.attempts - 1))]


@dataclass
class DeliveryReport:
    channel: str
    target: str
    ok: bool
    sent: int = 0  # items delivered
    attempts: int = 0
    error: str | None = None
    elapsed_s: float = 0.0
    delivered_ids: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "target": self.target,
            "ok": self.ok,
            "sent": self.sent,
            "attempts": self.attempts,
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 3),
        }


class PermanentError(Exception):
    """Not worth retrying (e.g. HTTP 400: the payload is wrong)."""


@dataclass(frozen=True)
class ReceiverAuth:
    """How to log in to a receiver and verify its certificate. Empty: nothing but the URL's own
    ``user:pass@`` and the system's CAs. :meth:`webhook_from_env` and :meth:`alertmanager_from_env`
    read the ``JUNHENG_ALERT*`` settings; the secrets are never in a repr."""

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @classmethod
    def webhook_from_env(cls) -> ReceiverAuth:
        from junheng.settings import AlertSettings

        s = AlertSettings.from_env()
        return cls(token=s.webhook_token, username=s.webhook_username, password=s.webhook_password, cafile=s.cafile)

    @classmethod
    def alertmanager_from_env(cls) -> ReceiverAuth:
        from junheng.settings import AlertSettings

        s = AlertSettings.from_env()
        return cls(username=s.alertmanager_username, password=s.alertmanager_password, cafile=s.cafile)

    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.username is not None:
            raw = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": f"Basic {base64.b64encode(raw).decode('ascii')}"}
        return {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """The context HTTPS requests verify with (None: urllib's default, the system's CAs)."""
        return ssl.create_default_context(cafile=self.cafile) if self.cafile else None

    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the token, the password and the Basic header's encoding."""
        basic = self.headers().get("Authorization", "").partition(" ")[2] if self.password else ""
        return tuple(s for s in (self.token, self.password, basic) if s)


NO_AUTH = ReceiverAuth()


def _scrub_all(text: str | None, url: str, auth: ReceiverAuth) -> str | None:
    text = scrub(text, url)
    for secret in auth.secrets():
        if text and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _retry(
    policy: RetryPolicy, action: Callable[[], Any], sleep: Callable[[float], None] = time.sleep
) -> tuple[bool, int, str | None]:
    delays = policy.delays()
    error = None
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            action()
            return True, attempt, None
        except PermanentError as exc:
            return False, attempt, str(exc)
        except Exception as exc:  # network, HTTP 5xx, Kafka: retried
            error = f"{type(exc).__name__}: {exc}"
        if attempt <= len(delays):
            sleep(delays[attempt - 1])
    return False, max(1, policy.attempts), error


def post_json(
    url: str, payload: Any, timeout_s: float, headers: Mapping[str, str] | None = None, auth: ReceiverAuth = NO_AUTH
) -> int:
    """POST ``payload`` as JSON; a ``user:pass@`` in ``url`` goes as a Basic header, `auth`'s
    credentials over it, `headers` over both. Errors name the URL redacted and no secret."""
    url, url_auth = split_credentials(url)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "junheng-alerts/1",
            **url_auth,
            **auth.headers(),
            **(headers or {}),
        },
    )
    with _opened(req, url, timeout_s, auth) as resp:
        resp.read()
        return int(resp.status)


def get_json(url: str, timeout_s: float = 10.0, auth: ReceiverAuth = NO_AUTH) -> Any:
    url, url_auth = split_credentials(url)
    req = urllib.request.Request(url, headers={"Accept": "application/json", **url_auth, **auth.headers()})
    with _opened(req, url, timeout_s, auth) as resp:
        return json.loads(resp.read())


def _opened(req: urllib.request.Request, url: str, timeout_s: float, auth: ReceiverAuth) -> Any:
    """``urlopen`` with `auth`'s TLS context; HTTP errors and certificate failures as one line.
    Refused credentials (401, 403) and an untrusted certificate are permanent: retrying cannot
    help, the events stay queued for the next evaluation."""
    try:
        return urllib.request.urlopen(req, timeout=timeout_s, context=auth.ssl_context())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        hint = " (the receiver refused the credentials)" if exc.code in (401, 403) else ""
        message = _scrub_all(f"HTTP {exc.code} from {redact_url(url)}{hint}: {detail}", url, auth) or ""
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise PermanentError(message) from None
        raise RuntimeError(message) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLCertVerificationError):
            raise PermanentError(
                f"the certificate of {redact_url(url)} is not trusted ({exc.reason.verify_message}): set "
                f"JUNHENG_ALERT_CAFILE to the CA that signed it"
            ) from None
        raise


# ---------------------------------------------------------------------- Alertmanager
def alertmanager_item(
    alert: Alert, *, now: dt.datetime, resend_ttl: dt.timedelta, generator_url: str = ""
) -> dict[str, Any]:
    """One alert in Alertmanager's v2 ``postableAlert`` shape."""
    if alert.state == FIRING:
        ends = now + resend_ttl
    else:
        ends = min(alert.ends_at or now, now)
    item: dict[str, Any] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": rfc3339(alert.starts_at or now),
        "endsAt": rfc3339(ends),
    }
    if generator_url:
        item["generatorURL"] = generator_url
    return item


class AlertmanagerClient:
    """Alertmanager's v2 API. `url` is the base (``http://host:9093``, with any route prefix)."""

    def __init__(
        self,
        url: str,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        auth: ReceiverAuth | None = None,
    ) -> None:
        base = url.rstrip("/")
        for suffix in ("/api/v2/alerts", "/api/v2"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        self.base = base
        self.retry = retry or RetryPolicy()
        self.headers = dict(headers or {})
        self.sleep = sleep
        self.auth = auth or NO_AUTH

    def post(self, items: Sequence[dict[str, Any]]) -> DeliveryReport:
        start = time.perf_counter()
        report = DeliveryReport(ALERTMANAGER, redact_url(self.base), True)
        for i in range(0, len(items), CHUNK):
            chunk = list(items[i : i + CHUNK])
            ok, attempts, error = _retry(
                self.retry,
                functools.partial(
                    post_json, f"{self.base}/api/v2/alerts", chunk, self.retry.timeout_s, self.headers, self.auth
                ),
                self.sleep,
            )
            report.attempts += attempts
            if not ok:
                report.ok, report.error = False, _scrub_all(error, self.base, self.auth)
                break
            report.sent += len(chunk)
            report.delivered_ids += [c["annotations"].get("alert_id", "") for c in chunk]
        report.elapsed_s = time.perf_counter() - start
        return report

    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (active, silenced, inhibited, unprocessed: Alertmanager's defaults)."""
        query = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in filters.items())
        return list(
            get_json(f"{self.base}/api/v2/alerts" + (f"?{query}" if query else ""), self.retry.timeout_s, self.auth)
        )

    def groups(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.base}/api/v2/alerts/groups", self.retry.timeout_s, self.auth))

    def ready(self) -> bool:
        try:
            url, url_auth = split_credentials(f"{self.base}/-/ready")
            request = urllib.request.Request(url, headers={**url_auth, **self.auth.headers()})
            with _opened(request, url, self.retry.timeout_s, self.auth) as resp:
                return int(resp.status) == 200
        except Exception:
            return False


# ---------------------------------------------------------------------- webhook
def webhook_payload(
    events: Sequence[Mapping[str, Any]], *, run_id: str, evaluated_at: dt.datetime, as_of: dt.date | None
) -> dict[str, Any]:
    return {
        "version": WEBHOOK_VERSION,
        "source": "junheng",
        "status": FIRING if any(e["status"] == FIRING for e in events) else "resolved",
        "run_id": run_id,
        "evaluated_at": rfc3339(evaluated_at),
        "as_of": as_of.isoformat() if as_of else None,
        "alerts": list(events),
    }


class WebhookClient:
    def __init__(
        self,
        url: str,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        auth: ReceiverAuth | None = None,
    ) -> None:
        self.url = url
        self.retry = retry or RetryPolicy()
        self.headers = dict(headers or {})
        self.sleep = sleep
        self.auth = auth or NO_AUTH

    def post(
        self, events: Sequence[Mapping[str, Any]], *, run_id: str, evaluated_at: dt.datetime, as_of: dt.date | None
    ) -> DeliveryReport:
        start = time.perf_counter()
        report = DeliveryReport(WEBHOOK, redact_url(self.url), True)
        for i in range(0, len(events), CHUNK):
            chunk = list(events[i : i + CHUNK])
            payload = webhook_payload(chunk, run_id=run_id, evaluated_at=evaluated_at, as_of=as_of)
            ok, attempts, error = _retry(
                self.retry,
                functools.partial(
                    post_json,
                    self.url,
                    payload,
                    self.retry.timeout_s,
                    {"X-Junheng-Run": run_id, **self.headers},
                    self.auth,
                ),
                self.sleep,
            )
            report.attempts += attempts
            if not ok:
                report.ok, report.error = False, _scrub_all(error, self.url, self.auth)
                break
            report.sent += len(chunk)
            report.delivered_ids += [e["event_id"] for e in chunk]
        report.elapsed_s = time.perf_counter() - start
        return report


# ---------------------------------------------------------------------- Kafka
def kafka_message(event: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) of an alert event on the alerts topic."""
    return (event["alert_id"].encode("utf-8"), json.dumps(event, ensure_ascii=False, sort_keys=True).encode("utf-8"))


class KafkaAlertSink:
    """Sends alert events to ``<prefix>.alerts``; the producer is made on first use and kept."""

    def __init__(
        self,
        settings: Any = None,
        topic: str | None = None,
        retry: RetryPolicy | None = None,
        producer: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
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
            self._producer = make_producer(
                self.settings,
                client_id="junheng-alerts",
                linger_ms=0,
                max_block_ms=block_ms,
                request_timeout_ms=block_ms,
                delivery_timeout_ms=max(block_ms + 1000, 2 * block_ms),
            )
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
                raise RuntimeError(
                    f"{len(failed)} of {len(futures)} messages to {self.topic} failed: {type(first).__name__}: {first}"
                )

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
