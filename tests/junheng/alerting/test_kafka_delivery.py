"""The Kafka alerts topic: one message per state change, key = alert_id (needs the local broker,
`infra/kafka/kafka.sh start`; a missing broker fails, never skips, as in tests/kafka)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import pytest

from junheng.alerting import AlertConfig, StreamAlerter
from junheng.alerting.delivery import RetryPolicy
from junheng.alerting.model import DISTRICT_ATTAINMENT_LOST, fingerprint

pytestmark = [pytest.mark.kafka]


@pytest.fixture
def bootstrap() -> str:
    port = int(os.environ.get("KAFKA_PORT", "9092"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            pass
    except OSError as exc:
        pytest.fail(
            f"Kafka broker not reachable at 127.0.0.1:{port} ({exc}); start it with infra/kafka/kafka.sh start",
            pytrace=False,
        )
    return f"127.0.0.1:{port}"


@pytest.fixture
def alerts_topic(bootstrap):
    from kafka import KafkaAdminClient

    prefix = f"jt-alerts-{uuid.uuid4().hex[:10]}"
    topic = f"{prefix}.alerts"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="junheng-test-alerts")
    try:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
        deadline = time.monotonic() + 20
        while topic not in set(admin.list_topics()):
            assert time.monotonic() < deadline, f"topic {topic} did not appear"
            time.sleep(0.2)
        yield prefix, topic
    finally:
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()


def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        out: list = []
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                out += batch
        return out
    finally:
        consumer.close()


def test_state_changes_go_to_the_alerts_topic_keyed_by_alert_id(tmp_path, bootstrap, alerts_topic):
    from junheng.settings import KafkaSettings

    prefix, topic = alerts_topic
    config = AlertConfig(
        kafka_settings=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix),
        retry=RetryPolicy(attempts=2, backoff_s=0.1, timeout_s=10),
    )
    alerter = StreamAlerter(tmp_path, kafka=True, config=config)
    try:

        def status(attained, previous):
            return {
                "district_code": "370212",
                "year": 2025,
                "attained": attained,
                "previous_attained": previous,
                "failed_items": json.dumps(["V1"] if attained is False else []),
                "undecided_items": "[]",
            }

        fired = alerter.on_statuses([status(False, True)])
        assert fired.ok, fired.as_dict()
        assert alerter.on_statuses([status(False, False)]).deliveries == []  # a repeat: nothing sent
        resolved = alerter.on_statuses([status(True, False)])
        assert resolved.ok and resolved.deliveries[0].channel == "kafka" and resolved.deliveries[0].sent == 1
    finally:
        alerter.close()

    messages = read_all(bootstrap, topic, expect=2)
    alert_id = fingerprint(DISTRICT_ATTAINMENT_LOST, "370212", "ATTAINMENT", 2025)
    assert [m.key for m in messages] == [alert_id.encode()] * 2
    values = [json.loads(m.value) for m in messages]
    assert [v["status"] for v in values] == ["firing", "resolved"]
    assert values[0]["event_id"] != values[1]["event_id"] and values[1]["endsAt"]
    assert values[0]["labels"]["alertname"] == DISTRICT_ATTAINMENT_LOST
