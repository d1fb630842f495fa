"""Settings from the environment, in one place, with the defaults a newcomer needs.

Secrets (SASL passwords) are only ever read from the environment, never from a file in the
repository.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = field(default_factory=lambda: os.environ.get(
        "JUNHENG_KAFKA_BOOTSTRAP", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"))
    security_protocol: str = field(default_factory=lambda: os.environ.get("JUNHENG_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"))
    sasl_mechanism: str | None = field(default_factory=lambda: os.environ.get("JUNHENG_KAFKA_SASL_MECHANISM"))
    sasl_username: str | None = field(default_factory=lambda: os.environ.get("JUNHENG_KAFKA_SASL_USERNAME"))
    sasl_password: str | None = field(default_factory=lambda: os.environ.get("JUNHENG_KAFKA_SASL_PASSWORD"), repr=False)
    ssl_cafile: str | None = field(default_factory=lambda: os.environ.get("JUNHENG_KAFKA_SSL_CAFILE"))
    topic_prefix: str = field(default_factory=lambda: os.environ.get("JUNHENG_TOPIC_PREFIX", "junheng"))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


def default_warehouse() -> Path:
    return Path(os.environ.get("JUNHENG_WAREHOUSE", PROJECT_ROOT / "warehouse"))


def catalogue_name() -> str:
    return os.environ.get("JUNHENG_CATALOGUE", "qingdao-2021")
