"""Delivery failures are reported, retried a bounded number of times, never crash the evaluation,
and what was not delivered is delivered by the next evaluation."""

from __future__ import annotations

import datetime as dt
import json

from alerting_helpers import free_port

from junheng.alerting import AlertConfig, StreamAlerter, load_book, state_path
from junheng.alerting.delivery import (
    KafkaAlertSink,
    RetryPolicy,
    WebhookClient,
    alertmanager_item,
    kafka_message,
    webhook_payload,
)
from junheng.alerting.history import read_history
from junheng.alerting.model import FIRING, RESOLVED

FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=2.0)


def status(attained, previous, code="370202", year=2025, failed=("V1",)):
    return {
        "district_code": code,
        "year": year,
        "attained": attained,
        "previous_attained": previous,
        "failed_items": json.dumps(list(failed) if attained is False else []),
        "undecided_items": "[]",
    }


def test_webhook_failure_is_retried_reported_and_delivered_next_time(tmp_path, receiver):
    alerter = StreamAlerter(tmp_path, webhook_url=receiver.url + "/hook", config=AlertConfig(retry=FAST))
    receiver.fail_next = [500, 503, 500]  # every attempt of the first delivery fails
    run = alerter.on_statuses([status(False, True)])
    assert len(run.fired) == 1 and not run.ok
    (report,) = run.deliveries
    assert report.channel == "webhook" and not report.ok and report.attempts == 3 and "HTTP 500" in report.error
    assert run.pending == {"webhook": 1}
    assert read_history(tmp_path / "landing")[0]["state"] == FIRING  # the history landed anyway
    assert receiver.bodies() == []

    # the next evaluation (a status row that changes nothing) delivers what is pending
    run = alerter.on_statuses([status(False, False)])
    assert not run.fired and run.repeated and run.ok and run.pending == {}
    (body,) = receiver.bodies("/hook")
    assert [e["status"] for e in body["alerts"]] == [FIRING]
    assert load_book(state_path(tmp_path)).pending("webhook") == []

    # one failure then success: delivered with 2 attempts
    receiver.fail_next = [500]
    run = alerter.on_statuses([status(True, False)])
    assert run.ok and run.deliveries[0].attempts == 2 and len(run.resolved) == 1
    assert [e["status"] for e in receiver.bodies("/hook")[-1]["alerts"]] == [RESOLVED]


def test_a_permanent_http_error_is_not_retried(tmp_path, receiver):
    receiver.fail_next = [400]
    client = WebhookClient(receiver.url + "/hook", FAST)
    report = client.post(
        [{"event_id": "e", "status": FIRING}], run_id="r", evaluated_at=dt.datetime.now(dt.UTC), as_of=None
    )
    assert not report.ok and report.attempts == 1 and "HTTP 400" in report.error


def test_unreachable_alertmanager_never_crashes_the_evaluation(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    alerter = StreamAlerter(tmp_path, alertmanager_url=dead, config=AlertConfig(retry=FAST))
    run = alerter.on_statuses([status(False, True)])
    assert len(run.fired) == 1 and not run.ok
    (report,) = run.deliveries
    assert report.channel == "alertmanager" and report.attempts == 3 and not report.ok
    assert "Connection refused" in report.error or "URLError" in report.error
    # the state moved on (no re-fire next time) and the resolution is kept for Alertmanager
    run = alerter.on_statuses([status(True, False)])
    assert len(run.resolved) == 1 and not run.fired
    assert [e["status"] for e in load_book(state_path(tmp_path)).pending("alertmanager")] == [RESOLVED]


def test_kafka_send_failures_are_retried_and_reported():
    class FlakyProducer:
        def __init__(self):
            self.calls = 0

        def send(self, topic, key, value):
            self.calls += 1
            raise RuntimeError("broker gone")

        def flush(self, timeout=None):
            pass

        def close(self, timeout=None):
            pass

    producer = FlakyProducer()
    sink = KafkaAlertSink(topic="t.alerts", retry=FAST, producer=producer)
    report = sink.send([{"event_id": "e1", "alert_id": "a" * 64}])
    assert not report.ok and report.attempts == 3 and producer.calls == 3 and "broker gone" in report.error


def test_wire_formats():
    from junheng.alerting.model import Alert, alert_event

    now = dt.datetime(2026, 6, 30, 8, 0, tzinfo=dt.UTC)
    a = Alert(
        alertname="DistrictBehind",
        district_code="370203",
        rule_id="C5",
        year=2025,
        severity="major",
        summary="s",
        description="d",
        clause="c",
        fix="f",
    ).fired(now)
    item = alertmanager_item(a, now=now, resend_ttl=dt.timedelta(hours=6), generator_url="http://x/y")
    assert item == {
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": "2026-06-30T08:00:00.000Z",
        "endsAt": "2026-06-30T14:00:00.000Z",
        "generatorURL": "http://x/y",
    }
    later = now + dt.timedelta(minutes=5)
    resolved = a.resolved(later)
    assert (
        alertmanager_item(resolved, now=later, resend_ttl=dt.timedelta(hours=6))["endsAt"] == "2026-06-30T08:05:00.000Z"
    )
    event = alert_event(resolved, evaluated_at=later, run_id="r1", as_of=dt.date(2026, 6, 30))
    body = webhook_payload([event], run_id="r1", evaluated_at=later, as_of=dt.date(2026, 6, 30))
    assert body["version"] == "junheng.alerts/1" and body["status"] == RESOLVED and body["alerts"] == [event]
    assert {
        "event_id",
        "alert_id",
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "alertname",
        "district_code",
        "rule_id",
        "year",
        "severity",
        "summary",
        "description",
        "clause",
        "fix",
    } <= set(event)
    key, value = kafka_message(event)
    assert key == a.alert_id.encode() and json.loads(value) == event
