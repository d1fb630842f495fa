"""Fixtures of the security tests (tests/security, marker `kafka`; docs/operations.md "Security").

One secured broker per session (infra/kafka/secure.sh: SASL_SSL, SCRAM-SHA-512, ACLs), started on
free ports with a data dir of its own and stopped at the end; the shared broker on 9092 is never
touched. Its users are made with Kafka's own tool (kafka-configs, through secure.sh set-user) and
granted with kafka-acls (secure.sh grant-producer / grant-worker), exactly as docs/operations.md
tells an operator to; the topics are created by the admin with `junheng produce --create-topics`.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# pipeline_helpers (WorkerProcess) lives beside the Kafka tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kafka"))

from secure_helpers import Principal, SecureBroker, Secured, junheng, new_password  # noqa: E402


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    broker = SecureBroker(tmp_path_factory.mktemp("secure-kafka") / "data")
    broker.start()
    try:
        prefix = f"js-{uuid.uuid4().hex[:8]}"
        app_id = f"{prefix}-worker"
        producer = Principal(f"{prefix}-producer", new_password())
        worker = Principal(f"{prefix}-worker", new_password())
        for who in (producer, worker):
            broker.set_user(who.name, who.password)
        broker.secure_sh("grant-producer", producer.name, prefix)
        broker.secure_sh("grant-worker", worker.name, prefix, app_id)
        out = Secured(broker, prefix, app_id, producer, worker, retired=[])
        created, _ = junheng(["produce", "--create-topics"], out.admin_env())
        assert created.returncode == 0, created.stderr[-2000:]
        yield out
    finally:
        broker.stop()
