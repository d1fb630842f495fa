"""Fixtures for tests that need the local Kafka broker (infra/kafka/kafka.sh).

The broker is not started here: a missing broker is a FAILURE (not a skip), so
a CI run cannot go green without having exercised Kafka.  Start it with

    infra/kafka/kafka.sh start

The clients (kafka-python, aiokafka) are imported lazily inside the tests so
that collecting the rest of the suite never needs them.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

KAFKA_HOST = "127.0.0.1"


def _kafka_port() -> int:
    return int(os.environ.get("KAFKA_PORT", "9092"))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """'127.0.0.1:PORT' of a reachable broker, or fail with how to start one."""
    port = _kafka_port()
    try:
        with socket.create_connection((KAFKA_HOST, port), timeout=3):
            pass
    except OSError as exc:
        pytest.fail(
            f"Kafka broker not reachable at {KAFKA_HOST}:{port} ({exc}); start it with infra/kafka/kafka.sh start",
            pytrace=False,
        )
    return f"{KAFKA_HOST}:{port}"


@pytest.fixture
def fresh_topic_name() -> str:
    """A topic name no earlier run has used."""
    return f"junheng-test-{uuid.uuid4().hex[:12]}"
