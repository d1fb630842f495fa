"""Helpers for the security tests: a secured broker of the tests' own (infra/kafka/secure.sh on free
ports, its own data dir: the shared broker on 9092 is never touched), the `junheng` command run
with a principal's settings, and the grep that proves no secret was written anywhere.

A missing Java, openssl or keytool makes secure.sh fail, and the fixture then FAILS (never skips):
a CI run cannot go green without having talked to a secured broker.
"""

from __future__ import annotations

import os
import secrets
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECURE_SH = PROJECT_ROOT / "infra" / "kafka" / "secure.sh"
MECHANISM = "SCRAM-SHA-512"


def new_password(length: int = 24) -> str:
    """Letters and digits only (SCRAM's config syntax reserves , = [ ])."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def free_port_pair(start: int = 19500) -> int:
    """A port p with p and p+1 (the controller) free on 127.0.0.1."""
    for port in range(start, start + 400, 2):
        ok = True
        for p in (port, port + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port pair")


class SecureBroker:
    """infra/kafka/secure.sh on a port pair and data dir of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port_pair()
        assert self.port != 9092, "never the shared broker"
        self.data_dir = data_dir
        self.env = dict(
            os.environ,
            KAFKA_PORT=str(self.port),
            KAFKA_DATA_DIR=str(data_dir),
            KAFKA_STOP_TIMEOUT="20",
            KAFKA_START_TIMEOUT="150",
        )
        self.env.pop("KAFKA_CONTROLLER_PORT", None)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cafile(self) -> Path:
        return self.data_dir / "secure" / "ca.pem"

    @property
    def admin_password(self) -> str:
        return (self.data_dir / "secure" / "admin.password").read_text().strip()

    def secure_sh(self, *args: str, stdin: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["bash", str(SECURE_SH), *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"secure.sh {' '.join(args)} (port {self.port}) failed with {proc.returncode}:\n{proc.stderr[-3000:]}",
                pytrace=False,
            )
        return proc

    def start(self) -> None:
        self.secure_sh("start")

    def stop(self) -> None:
        self.secure_sh("stop")

    def set_user(self, name: str, password: str) -> subprocess.CompletedProcess[str]:
        return self.secure_sh("set-user", name, stdin=password + "\n")

    def logs(self) -> list[Path]:
        """The broker's own output and log4j files."""
        return [self.data_dir / "kafka.out", *sorted((self.data_dir / "logs").glob("*"))]

    def settings_env(self, user: str, password: str | None, prefix: str, *, cafile: bool = True) -> dict[str, str]:
        """The JUNHENG_* variables of a client logging in as `user`."""
        env = {
            "JUNHENG_KAFKA_BOOTSTRAP": self.bootstrap,
            "JUNHENG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "JUNHENG_KAFKA_SASL_MECHANISM": MECHANISM,
            "JUNHENG_KAFKA_SASL_USERNAME": user,
            "JUNHENG_TOPIC_PREFIX": prefix,
        }
        if password is not None:
            env["JUNHENG_KAFKA_SASL_PASSWORD"] = password
        if cafile:
            env["JUNHENG_KAFKA_SSL_CAFILE"] = str(self.cafile)
        return env


@dataclass
class Principal:
    name: str
    password: str


@dataclass
class Secured:
    """The session's secured broker: its topic prefix, the worker's app id and the principals."""

    broker: SecureBroker
    prefix: str
    app_id: str
    producer: Principal
    worker: Principal
    retired: list[str]  # passwords rotated away: they must not appear anywhere either

    def env(self, who: Principal, password: str | None = None, **kw: bool) -> dict[str, str]:
        return self.broker.settings_env(who.name, who.password if password is None else password, self.prefix, **kw)

    def admin_env(self) -> dict[str, str]:
        return self.broker.settings_env("admin", self.broker.admin_password, self.prefix)

    def all_secrets(self) -> list[str]:
        return [self.broker.admin_password, self.producer.password, self.worker.password, *self.retired]

    def kafka_settings(self, env: Mapping[str, str]):  # noqa: ANN201 - junheng.settings.KafkaSettings
        from junheng.settings import KafkaSettings

        return KafkaSettings(
            bootstrap_servers=env["JUNHENG_KAFKA_BOOTSTRAP"],
            security_protocol=env["JUNHENG_KAFKA_SECURITY_PROTOCOL"],
            sasl_mechanism=env["JUNHENG_KAFKA_SASL_MECHANISM"],
            sasl_username=env["JUNHENG_KAFKA_SASL_USERNAME"],
            sasl_password=env.get("JUNHENG_KAFKA_SASL_PASSWORD"),
            ssl_cafile=env.get("JUNHENG_KAFKA_SSL_CAFILE"),
            topic_prefix=self.prefix,
        )


def junheng(
    args: list[str], env: Mapping[str, str], timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`python -m junheng.cli ARGS` with `env` over a clean copy of the environment (no JUNHENG_KAFKA_*
    of the caller's); returns the process and its wall time."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("JUNHENG_KAFKA_") and k != "JUNHENG_TOPIC_PREFIX"}
    full = {
        **base,
        **env,
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), base.get("PYTHONPATH", "")) if p),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "junheng.cli", *args],
        env=full,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.monotonic() - t0


def assert_no_secret(
    secrets_: Iterable[str], *, texts: Mapping[str, str] | None = None, paths: Iterable[Path] = ()
) -> int:
    """No secret in any of `texts` (outputs, exception messages) nor in any byte of any file under
    `paths` (logs, the warehouse: Parquet, DuckDB, JSON, whatever is there). Returns the number of
    files read, so a caller can check the grep looked at something."""
    needles = [s for s in secrets_ if s]
    assert needles and all(len(s) >= 8 for s in needles), "the secrets to look for"
    for where, text in (texts or {}).items():
        for s in needles:
            assert s not in text, f"a secret appears in {where}"
    files = 0
    for root in paths:
        for f in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            data = f.read_bytes()
            files += 1
            for s in needles:
                assert s.encode() not in data, f"a secret appears in {f}"
    return files
