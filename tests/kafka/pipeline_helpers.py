"""Helpers for the end-to-end Kafka tests: a worker subprocess, reading a topic back, and the
embedded run that serves as the reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLUGINS = PROJECT_ROOT / "tests" / "plugins"

# one definition for the tests and the benchmarks (both drive the same worker the same way)
from benchmarks.kafka_util import caught_up, delete_topics, end_offsets, kill_process, stop_process  # noqa: E402,F401


def unique_prefix() -> str:
    return f"jt-{uuid.uuid4().hex[:10]}"


def kafka_settings(bootstrap: str, prefix: str) -> Any:
    from junheng.settings import KafkaSettings

    return KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)


class WorkerProcess:
    """`python -m junheng.worker` as a subprocess, its log in a file, its counts in a JSON file."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        warehouse: Path,
        log_path: Path,
        *,
        counts_file: Path | None = None,
        batch_size: int = 500,
        batch_seconds: float = 0.5,
        worker_id: str | None = None,
        session_timeout: float | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.warehouse = warehouse
        self.counts_file = counts_file or warehouse / "worker-counts.json"
        self.log_path = log_path
        env = dict(
            os.environ,
            JUNHENG_KAFKA_BOOTSTRAP=bootstrap,
            JUNHENG_TOPIC_PREFIX=prefix,
            PYTHONWARNINGS="ignore::DeprecationWarning",
        )
        # the tests' fault plugin (tests/plugins: installs what JUNHENG_FAULT_* asks, else nothing)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGINS), str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        cmd = [
            sys.executable,
            "-m",
            "junheng.worker",
            "--warehouse",
            str(warehouse),
            "--batch-size",
            str(batch_size),
            "--batch-seconds",
            str(batch_seconds),
            "--counts-file",
            str(self.counts_file),
            "--log-every",
            "5",
        ]
        if worker_id:
            cmd += ["--worker-id", worker_id]
        if session_timeout:
            cmd += ["--session-timeout", str(session_timeout)]
        cmd += list(extra_args)  # e.g. ["--no-gx"] (the fault suite: GX is orthogonal and slow)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    # ------------------------------------------------------------------ observing
    def counts(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.counts_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 120.0, what: str = "condition"
    ) -> dict[str, Any]:
        """Poll the counts file until predicate(counts) holds; fail (with the log) on timeout
        or if the worker died."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.counts()
            if last is not None and last.get("pid") == self.proc.pid and predicate(last):
                return last
            if not self.alive():
                pytest.fail(
                    f"worker exited with {self.proc.returncode} while waiting for {what}; "
                    f"counts {last}\n{self.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.25)
        pytest.fail(f"timeout ({timeout}s) waiting for {what}; counts {last}\n{self.log_tail()}", pytrace=False)

    # ------------------------------------------------------------------ stopping
    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful: Faust commits offsets), then SIGKILL if it does not exit."""
        return stop_process(self.proc, self._log, timeout)

    def kill(self) -> int:
        """SIGKILL: no commit, no cleanup -- what a crash looks like."""
        return kill_process(self.proc, self._log)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.alive():
            self.stop()


@dataclass
class TopicMessage:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)
    partition: int = -1
    offset: int = -1


def read_topic(bootstrap: str, topic: str, timeout: float = 20.0, expect: int | None = None) -> list[TopicMessage]:
    """Every message of `topic` from the beginning up to its end offsets (no consumer group)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[TopicMessage] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = all(consumer.position(tp) >= end[tp] for tp in tps)
            if done:
                break
            for batch in consumer.poll(timeout_ms=500).values():
                for m in batch:
                    out.append(
                        TopicMessage(m.key, m.value, {k: v for k, v in (m.headers or [])}, m.partition, m.offset)
                    )
        if expect is not None and len(out) < expect:
            pytest.fail(f"{topic}: read {len(out)} messages, expected {expect}", pytrace=False)
        return out
    finally:
        consumer.close()


def embedded_reference(lines: Sequence[bytes], tmp: Path, gx: bool = True) -> dict[str, Any]:
    """The embedded driver over the same lines: its summary counts and its warehouse.
    `gx` must match the worker's (--no-gx): the micro-batch suites can dead-letter events."""
    from junheng.settings import catalogue_name
    from rules import load_catalogue
    from streams.embedded import EmbeddedRunner

    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "events.jsonl"
    with open(path, "wb") as fh:
        for line in lines:
            fh.write(line + b"\n")
    warehouse = tmp / "warehouse"
    runner = EmbeddedRunner(warehouse, catalogue=load_catalogue(catalogue_name()), gx=gx)  # as the worker
    summary = runner.run([path])
    return {"counts": summary.as_dict(), "warehouse": warehouse, "summary": summary}


def _query(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    con = duckdb.connect()
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description or []], cur.fetchall()
    finally:
        con.close()


def latest_status(warehouse: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The latest district_status row per (district, year): highest (landed_batch, landed_pos)."""
    cols, rows = _query(f"""
        select * exclude (rn) from (
            select *, row_number() over (partition by district_code, year
                                         order by landed_batch desc, landed_pos desc) as rn
            from read_parquet('{warehouse}/landing/district_status/*.parquet'))
        where rn = 1""")
    out = {}
    for row in rows:
        d = dict(zip(cols, row))
        out[(d["district_code"], d["year"])] = d
    return out


def judged(status: dict[tuple[str, int], dict[str, Any]]) -> dict[tuple[str, int], tuple[Any, ...]]:
    """What the engine decided per district-year (landing bookkeeping and the batch-dependent
    previous_attained left out)."""
    keys = (
        "attained",
        "resource_passed",
        "government_passed",
        "quality_passed",
        "social_passed",
        "prerequisite_passed",
        "vetoed",
        "failed_items",
        "undecided_items",
    )
    return {k: tuple(v[c] for c in keys) for k, v in status.items()}


def landed_count(warehouse: Path, table: str) -> int:
    if not list((warehouse / "landing" / table).glob("*.parquet")):
        return 0
    return int(_query(f"select count(*) from read_parquet('{warehouse}/landing/{table}/*.parquet')")[1][0][0])


def landed_event_ids(warehouse: Path) -> list[str]:
    if not list((warehouse / "landing" / "events").glob("*.parquet")):
        return []
    return [r[0] for r in _query(f"select event_id from read_parquet('{warehouse}/landing/events/*.parquet')")[1]]
