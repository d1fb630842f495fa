"""What the Kafka benchmarks share: a reachable broker, fresh topics under a unique prefix, the
synthetic city as message bytes, and the real worker as a subprocess.

The benchmarks run against the same local broker as the tests (``infra/kafka/kafka.sh start``) and
other jobs may be using it, so every run works under its own topic prefix (fresh topics, consumer
groups and changelog) and deletes exactly its own topics afterwards -- never anything else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from junheng.settings import KafkaSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: production worker defaults (junheng/worker.py); the benchmarks state when they differ
DEFAULT_BATCH_SIZE = 5000
DEFAULT_BATCH_SECONDS = 0.2


class BrokerUnavailable(RuntimeError):
    """No broker at the bootstrap address: start it with ``bash infra/kafka/kafka.sh start``."""


def bootstrap() -> str:
    """The broker the benchmarks use (JUNHENG_KAFKA_BOOTSTRAP, else 127.0.0.1:$KAFKA_PORT)."""
    return KafkaSettings().bootstrap_servers


def require_broker(servers: str | None = None) -> str:
    """The bootstrap string, after checking the first server accepts a connection."""
    servers = servers or bootstrap()
    host, _, port = servers.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            pass
    except OSError as exc:
        raise BrokerUnavailable(
            f"Kafka broker not reachable at {servers} ({exc}); start it with: bash infra/kafka/kafka.sh start"
        ) from exc
    return servers


def unique_prefix(kind: str) -> str:
    """A topic prefix no other run uses (topics, groups and changelog all derive from it)."""
    return f"jbench-{kind}-{uuid.uuid4().hex[:8]}"


def settings_for(servers: str, prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=servers, topic_prefix=prefix)


def delete_topics(servers: str, prefix: str) -> list[str]:
    """Delete the topics named ``<prefix>.*`` or ``<prefix>-*`` -- this run's, nothing else."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="junheng-bench-cleanup")
    try:
        doomed = [t for t in admin.list_topics() if t.startswith((prefix + ".", prefix + "-"))]
        if doomed:
            admin.delete_topics(doomed)
        return doomed
    finally:
        admin.close()


def city_lines(schools: int, seed: int = 2021, noise: float = 0.01) -> tuple[list[bytes], dict[str, Any]]:
    """The synthetic city's lines with `noise` (1 %) each of bad, duplicate and stale lines, as
    production sees them (the worker's dead-letter and duplicate paths are part of its cost).
    The noise has its own random streams: the valid events are the same for any `noise`."""
    from ingestion.synthetic import generate_city

    city = generate_city(seed=seed, schools=schools, bad_fraction=noise, duplicate_fraction=noise, stale_fraction=noise)
    return city.lines, city.manifest


def load_topic(settings: KafkaSettings, lines: Sequence[bytes], partitions: int = 4) -> dict[str, Any]:
    """Create the project's topics under the settings' prefix and produce `lines` to events."""
    from ingestion.producer import create_topics, produce_lines

    create_topics(settings, partitions=partitions)
    counts = produce_lines(lines, settings)
    if counts.get("sent") != len(lines):
        raise RuntimeError(f"produced {counts.get('sent')} of {len(lines)} lines: {counts}")
    return counts


def end_offsets(servers: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def stop_process(proc: subprocess.Popen[bytes], log: Any, timeout: float = 30.0) -> int:
    """SIGTERM (a worker shuts down cleanly: Faust commits offsets), SIGKILL if it hangs; the
    log file is closed either way. The return code (negative: the signal that ended it)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    log.close()
    return proc.returncode  # type: ignore[no-any-return]


def kill_process(proc: subprocess.Popen[bytes], log: Any) -> int:
    """SIGKILL: no commit, no cleanup -- what a crash looks like."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    log.close()
    return proc.returncode  # type: ignore[no-any-return]


class Worker:
    """``python -m junheng.worker`` as a subprocess -- the real worker, started as the tests start
    it -- with its log in a file and its counts (written after every batch) read back."""

    def __init__(
        self,
        servers: str,
        prefix: str,
        workdir: Path,
        *,
        app_id: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_seconds: float = DEFAULT_BATCH_SECONDS,
        gx: bool = True,
        extra_env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.counts_file = workdir / "worker-counts.json"
        self.log_path = workdir / "worker.log"
        env = dict(
            os.environ,
            JUNHENG_KAFKA_BOOTSTRAP=servers,
            JUNHENG_TOPIC_PREFIX=prefix,
            PYTHONWARNINGS="ignore::DeprecationWarning",
            **(extra_env or {}),
        )
        cmd = [
            sys.executable,
            "-m",
            "junheng.worker",
            "--warehouse",
            str(workdir / "warehouse"),
            "--app-id",
            app_id,
            "--batch-size",
            str(batch_size),
            "--batch-seconds",
            str(batch_seconds),
            "--counts-file",
            str(self.counts_file),
            "--log-every",
            "5",
            "--no-create-topics",
        ]
        if not gx:
            cmd.append("--no-gx")
        cmd += list(extra_args)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def counts(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.counts_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if data.get("pid") == self.proc.pid else None

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str, poll_s: float = 0.1
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.counts()
            if last is not None and predicate(last):
                return last
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {self.proc.returncode} waiting for {what}; counts {last}\n{self.log_tail()}"
                )
            time.sleep(poll_s)
        raise TimeoutError(f"timeout ({timeout}s) waiting for {what}; counts {last}\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (Faust shuts down cleanly), SIGKILL if it hangs."""
        return stop_process(self.proc, self._log, timeout)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def caught_up(counts: dict[str, Any], topic: str, ends: dict[int, int]) -> bool:
    """The worker has done every message below `ends` (partition -> end offset)."""
    done = counts.get("last_offsets", {})
    return all(done.get(f"{topic}:{p}", -1) >= end - 1 for p, end in ends.items() if end > 0)


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
