"""Security that is tested (issue #12 item 7), on a real broker secured as docs/operations.md says:
SASL_SSL with SCRAM-SHA-512, certificates made by openssl/keytool, users made by kafka-configs,
ACLs by kafka-acls (tests/security/conftest.py).

- the producer and the worker connect with settings from the environment and carry a city end
  to end; the producer may only write the events topic, the worker only what it needs;
- what was not granted is refused by the broker, and said in one line;
- a wrong password is one clear line from `junheng produce` and from the worker, within seconds;
- a password is rotated while the worker runs, without stopping it;
- no password ever appears in a log, an output, an exception text or a file of the warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_helpers import PROJECT_ROOT, WorkerProcess
from secure_helpers import Secured, assert_no_secret, junheng, new_password

pytestmark = pytest.mark.kafka

WORKER_ARGS = ("--no-gx", "--no-create-topics")


def _city(path: Path, seed: int, schools: int = 30) -> int:
    from ingestion.synthetic import generate_city

    city = generate_city(seed=seed, schools=schools, bad_fraction=0.03)
    city.write_jsonl(path)
    return len(city.lines)


def _worker(
    secured: Secured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, password: str | None = None
) -> WorkerProcess:
    for key, value in secured.env(secured.worker, password).items():
        monkeypatch.setenv(key, value)
    return WorkerProcess(
        secured.broker.bootstrap,
        secured.prefix,
        tmp_path / f"{name}-warehouse",
        tmp_path / f"{name}.log",
        extra_args=WORKER_ARGS,
    )


def _end_offsets(secured: Secured, topic: str) -> int:
    """Messages in `topic`, read as the admin."""
    from kafka import KafkaConsumer, TopicPartition

    from ingestion.producer import client_config

    consumer = KafkaConsumer(**client_config(secured.kafka_settings(secured.admin_env())))
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_producer_and_worker_carry_a_city_over_sasl_ssl(secured: Secured, tmp_path, monkeypatch):
    events = tmp_path / "city.jsonl"
    lines = _city(events, seed=11)
    with _worker(secured, tmp_path, monkeypatch, "worker") as worker:
        worker.wait_for(lambda c: c["status"] == "running", timeout=90, what="the worker's agent running")
        produced, _ = junheng(["produce", str(events)], secured.env(secured.producer))
        assert produced.returncode == 0, produced.stderr[-2000:]
        counts = json.loads(produced.stdout.strip().splitlines()[-1])
        assert counts["sent"] == lines and counts["failed"] == 0 and counts["topic"] == f"{secured.prefix}.events"
        done = worker.wait_for(lambda c: c["read"] >= lines, timeout=120, what=f"read == {lines}")
        assert done["balanced"] and done["dead_lettered"] > 0 and done["applied"] > 0
        assert worker.stop() == 0, worker.log_tail()
    # the worker wrote what it may write: dead letters, results, statuses (its Faust changelog too)
    assert _end_offsets(secured, f"{secured.prefix}.dead-letters") == done["dead_lettered"]
    assert _end_offsets(secured, f"{secured.prefix}.district-status") > 0
    assert _end_offsets(secured, f"{secured.app_id}-facts-changelog") > 0
    files = assert_no_secret(
        secured.all_secrets(),
        texts={"produce stdout": produced.stdout, "produce stderr": produced.stderr},
        paths=[worker.log_path, worker.warehouse, *secured.broker.logs()],
    )
    assert files >= 5


def test_what_was_not_granted_is_refused_in_one_line(secured: Secured, tmp_path):
    events = tmp_path / "city.jsonl"
    _city(events, seed=12, schools=5)
    producer_env, worker_env = secured.env(secured.producer), secured.env(secured.worker)
    outputs: dict[str, str] = {}

    # the producer may not write another topic of the prefix ...
    denied, _ = junheng(["produce", "--topic", f"{secured.prefix}.dead-letters", str(events)], producer_env)
    line = _one_line(denied.stderr)
    assert denied.returncode == 2
    assert f"denies user '{secured.producer.name}' access to topic {secured.prefix}.dead-letters" in line
    # ... nor create topics; the worker may read the events but not write them
    create, _ = junheng(["produce", "--create-topics"], producer_env)
    assert create.returncode == 2 and "creating topic" in _one_line(create.stderr)
    as_worker, _ = junheng(["produce", str(events)], worker_env)
    assert as_worker.returncode == 2
    assert f"see topic {secured.prefix}.events but not write it" in _one_line(as_worker.stderr)
    outputs.update({"denied": denied.stderr, "create": create.stderr, "as worker": as_worker.stderr})

    # and it is the broker that refuses, not only our check before sending
    from kafka import KafkaProducer
    from kafka.errors import TopicAuthorizationFailedError

    from ingestion.producer import client_config

    producer = KafkaProducer(**client_config(secured.kafka_settings(producer_env)), max_block_ms=10_000)
    try:
        with pytest.raises(TopicAuthorizationFailedError) as refused:
            producer.send(f"{secured.prefix}.dead-letters", b"not mine").get(timeout=20)
    finally:
        producer.close(timeout=5)
    outputs["exception"] = str(refused.value)
    assert_no_secret(secured.all_secrets(), texts=outputs)


def test_a_wrong_password_is_one_clear_line(secured: Secured, tmp_path):
    events = tmp_path / "city.jsonl"
    _city(events, seed=13, schools=5)
    wrong = new_password()

    produced, seconds = junheng(["produce", str(events)], secured.env(secured.producer, wrong))
    line = _one_line(produced.stderr)
    assert produced.returncode == 2 and seconds < 20, (produced.returncode, seconds)
    assert f"refused the login of user '{secured.producer.name}'" in line and "JUNHENG_KAFKA_SASL_PASSWORD" in line

    # the worker: a clear message in its log and an exit, not a retry loop or a traceback
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JUNHENG_KAFKA_")},
        **secured.env(secured.worker, wrong),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    t0 = time.monotonic()
    worker = subprocess.run(
        [sys.executable, "-m", "junheng.worker", "--warehouse", str(tmp_path / "wh"), *WORKER_ARGS],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 2 and time.monotonic() - t0 < 30, worker.stderr[-3000:]
    assert "Traceback" not in worker.stderr
    assert f"refused the login of user '{secured.worker.name}'" in worker.stderr

    # a broker certificate the client cannot verify (no JUNHENG_KAFKA_SSL_CAFILE): said so
    untrusted, _ = junheng(["produce", str(events)], secured.env(secured.producer, cafile=False))
    assert untrusted.returncode == 2
    assert "is not trusted" in _one_line(untrusted.stderr) and "JUNHENG_KAFKA_SSL_CAFILE" in untrusted.stderr

    assert_no_secret(
        [*secured.all_secrets(), wrong],
        texts={
            "produce": produced.stdout + produced.stderr,
            "worker": worker.stdout + worker.stderr,
            "untrusted": untrusted.stderr,
        },
        paths=[tmp_path / "wh"] if (tmp_path / "wh").exists() else [],
    )


def test_rotating_passwords_while_the_worker_runs(secured: Secured, tmp_path, monkeypatch):
    """docs/operations.md "Rotate a Kafka password": set the new one with kafka-configs; connections
    already open stay authenticated, so the running worker goes on; every new login needs it."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    n1, n2 = _city(first, seed=21, schools=6), _city(second, seed=22, schools=6)
    with _worker(secured, tmp_path, monkeypatch, "before") as worker:
        start = worker.wait_for(lambda c: c["status"] == "running", timeout=90, what="the worker running")
        produced, _ = junheng(["produce", str(first)], secured.env(secured.producer))
        assert produced.returncode == 0, produced.stderr[-2000:]
        worker.wait_for(lambda c: c["read"] >= start["read"] + n1, timeout=120, what="the first file read")

        old_producer, old_worker = secured.producer.password, secured.worker.password
        secured.producer.password, secured.worker.password = new_password(), new_password()
        secured.retired += [old_producer, old_worker]
        secured.broker.set_user(secured.producer.name, secured.producer.password)
        secured.broker.set_user(secured.worker.name, secured.worker.password)

        stale, _ = junheng(["produce", str(second)], secured.env(secured.producer, old_producer))
        assert stale.returncode == 2 and "refused the login" in _one_line(stale.stderr)
        fresh, _ = junheng(["produce", str(second)], secured.env(secured.producer))
        assert fresh.returncode == 0, fresh.stderr[-2000:]
        # the running worker, logged in with the old password, reads the new events
        worker.wait_for(lambda c: c["read"] >= start["read"] + n1 + n2, timeout=120, what="the second file read")
        assert worker.alive()
        assert worker.stop() == 0, worker.log_tail()

    # restarted, it needs the new password
    refused = subprocess.run(
        [sys.executable, "-m", "junheng.worker", "--warehouse", str(tmp_path / "refused"), *WORKER_ARGS],
        env={**os.environ, **secured.env(secured.worker, old_worker), "PYTHONPATH": str(PROJECT_ROOT)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "refused the login" in refused.stderr
    with _worker(secured, tmp_path, monkeypatch, "after") as again:
        again.wait_for(lambda c: c["status"] == "running", timeout=90, what="the worker running with the new password")
        assert again.stop() == 0, again.log_tail()

    assert_no_secret(
        secured.all_secrets(),
        texts={"outputs": stale.stderr + fresh.stdout + fresh.stderr + refused.stderr},
        paths=[worker.log_path, worker.warehouse, again.log_path, again.warehouse, *secured.broker.logs()],
    )
