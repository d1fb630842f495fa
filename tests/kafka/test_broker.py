"""The local Kafka broker (infra/kafka/kafka.sh) round-trips keyed messages.

Produce with kafka-python (idempotent, acks=all), consume with aiokafka.
Needs: pip install kafka-python aiokafka; a broker: infra/kafka/kafka.sh start
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict

import pytest

pytestmark = [
    pytest.mark.kafka,
    # kafka-python 3.0 loads its protocol schemas with deprecated importlib.resources calls
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]

N_MESSAGES = 100
KEYS = [f"district-{i:02d}" for i in range(7)]  # 7 keys over 4 partitions
PARTITIONS = 4


def _kafka_python():
    try:
        import kafka  # kafka-python
        from kafka.admin import NewTopic
    except ImportError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"kafka-python is not installed ({exc}): pip install kafka-python", pytrace=False)
    return kafka, NewTopic


def _aiokafka():
    try:
        import aiokafka
    except ImportError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"aiokafka is not installed ({exc}): pip install aiokafka", pytrace=False)
    return aiokafka


def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    kafka, NewTopic = _kafka_python()
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap, client_id="junheng-test-admin")
    try:
        admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until every partition has a leader
            described = admin.describe_topics([name])
            parts = described[0].get("partitions") or []
            # kafka-python 3.x says "leader_id", 2.x "leader"
            if len(parts) == partitions and all(p.get("leader_id", p.get("leader", -1)) >= 0 for p in parts):
                return
            time.sleep(0.2)
        pytest.fail(f"topic {name} did not get {partitions} partitions with leaders in 30s")
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str) -> dict[str, int]:
    """Send N_MESSAGES keyed messages; return {key: partition} from the acks."""
    kafka, _ = _kafka_python()
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="junheng-test-producer",
        enable_idempotence=True,
        acks="all",
        # bytes in, no serializers: kafka-python 3 deprecates plain callables as serializers
    )
    futures = []
    seq: dict[str, int] = defaultdict(int)
    try:
        for i in range(N_MESSAGES):
            key = KEYS[i % len(KEYS)]
            value = {"key": key, "seq": seq[key], "i": i}
            seq[key] += 1
            futures.append((key, producer.send(topic, key=key.encode(), value=json.dumps(value).encode())))
        producer.flush(timeout=30)
        key_partition: dict[str, int] = {}
        last_offset: dict[int, int] = {}
        for key, fut in futures:
            md = fut.get(timeout=30)  # raises if the send failed
            assert md.topic == topic
            # one key -> one partition
            assert key_partition.setdefault(key, md.partition) == md.partition
            # offsets grow in send order within a partition
            assert md.offset > last_offset.get(md.partition, -1)
            last_offset[md.partition] = md.offset
        return key_partition
    finally:
        producer.close(timeout=10)


async def _consume(bootstrap: str, topic: str, expected: int, timeout: float = 45.0):
    aiokafka = _aiokafka()
    consumer = aiokafka.AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        client_id="junheng-test-consumer",
        group_id=f"{topic}-reader",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for tp_records in batch.values():
                records.extend(tp_records)
        await consumer.commit()
        # nothing more than expected arrives
        extra = await consumer.getmany(timeout_ms=1000)
        records.extend(r for rs in extra.values() for r in rs)
    finally:
        await consumer.stop()
    return records


def test_keyed_roundtrip_kafka_python_to_aiokafka(kafka_bootstrap, fresh_topic_name):
    topic = fresh_topic_name
    _create_topic(kafka_bootstrap, topic, PARTITIONS)

    key_partition = _produce(kafka_bootstrap, topic)
    assert set(key_partition) == set(KEYS)

    records = asyncio.run(_consume(kafka_bootstrap, topic, N_MESSAGES))

    assert len(records) == N_MESSAGES, f"consumed {len(records)} of {N_MESSAGES}"
    per_key: dict[str, list[int]] = defaultdict(list)
    seen_i = set()
    for r in records:
        key = r.key.decode()
        value = json.loads(r.value)
        assert value["key"] == key
        assert r.partition == key_partition[key]
        per_key[key].append(value["seq"])
        seen_i.add(value["i"])
    assert seen_i == set(range(N_MESSAGES)), "lost or duplicated messages"
    for key, seqs in per_key.items():
        # every key's messages arrive complete and in the order they were sent
        assert seqs == list(range(len(seqs))), f"order broken for {key}: {seqs}"
    assert sum(len(s) for s in per_key.values()) == N_MESSAGES


def test_auto_created_topic_gets_default_partitions(kafka_bootstrap, fresh_topic_name):
    """auto.create.topics.enable=true and num.partitions=4 are in effect."""
    kafka, _ = _kafka_python()
    producer = kafka.KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        producer.send(fresh_topic_name, b"hello").get(timeout=30)
        assert producer.partitions_for(fresh_topic_name) == set(range(PARTITIONS))
    finally:
        producer.close(timeout=10)
