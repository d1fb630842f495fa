"""The worker's configuration and its connection to Kafka.

``WorkerConfig`` is everything the worker needs besides the Kafka settings (junheng/settings.py:
``JUNHENG_KAFKA_*``, ``JUNHENG_TOPIC_PREFIX``); ``broker_urls`` and ``broker_credentials`` turn
those settings into what Faust and aiokafka take (docs/streaming.md, "Configuration").
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from junheng.layout import WarehouseLayout
from junheng.settings import KafkaSettings


@dataclass
class WorkerConfig:
    """Everything the worker needs besides the Kafka settings."""

    warehouse: Path
    partitions: int = 4  # of the events topic; the table changelog gets as many
    batch_size: int = 5000  # a GX call costs tens of ms whatever its size: big batches,
    batch_seconds: float = 0.2  # cut by time when the stream is slow: the window is added
    # to latency (0.2 s: p99 0.57 s at 500 ev/s, docs/benchmarks.md)
    gx: bool = True  # run the Great Expectations suites on every micro-batch
    gx_child: bool = True  # ... in a child process, beside the event loop
    fast_delivery: bool = True  # Faust's hand-over without tasks when nothing waits (fast_delivery.py)
    worker_id: str = field(default_factory=lambda: default_worker_id())
    app_id: str | None = None  # default: "<topic prefix>-worker"
    replication_factor: int = 1
    log_every_s: float = 10.0
    counts_file: Path | None = None  # default: <warehouse>/worker-counts.json
    catalogue: str | None = None  # default: JUNHENG_CATALOGUE / qingdao-2021
    standby_replicas: int = 1
    session_timeout_s: float = 60.0  # a worker that died unannounced is replaced after this
    max_loaded_districts: int = 128  # district states kept in memory between batches (LRU)
    log_dead_letters: bool = False  # one INFO line per dead letter (origin, event id, reason)

    def resolved_counts_file(self) -> Path:
        return self.counts_file or WarehouseLayout(self.warehouse).worker_counts


def default_worker_id() -> str:
    host = "".join(c if c.isalnum() else "_" for c in socket.gethostname().split(".")[0])[:24] or "host"
    return f"{host}_{os.getpid()}"


def default_app_id(settings: KafkaSettings) -> str:
    return f"{settings.topic_prefix}-worker"


def broker_urls(settings: KafkaSettings) -> list[str]:
    return [f"kafka://{s.strip()}" for s in settings.bootstrap_servers.split(",") if s.strip()]


def broker_credentials(settings: KafkaSettings) -> Any:
    """Faust credentials from the JUNHENG_KAFKA_* settings (None for PLAINTEXT)."""
    protocol = settings.security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        if not settings.sasl_mechanism or not settings.sasl_username or settings.sasl_password is None:
            raise ValueError(
                f"{protocol} needs JUNHENG_KAFKA_SASL_MECHANISM, JUNHENG_KAFKA_SASL_USERNAME and "
                "JUNHENG_KAFKA_SASL_PASSWORD in the environment"
            )
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    raise ValueError(f"unsupported JUNHENG_KAFKA_SECURITY_PROTOCOL {settings.security_protocol!r}")


def quiet_clients() -> None:
    """kafka-python logs every connection at INFO; keep the worker's log about the worker."""
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)
