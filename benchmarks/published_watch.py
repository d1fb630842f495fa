"""The two observers of benchmarks/published_latency.py: ``junheng serve`` as a subprocess on the
worker's warehouse, and a thread that notices each newly published version of the marts, reads the
probed state of every district-year from it and answers the probes that version shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.kafka_util import PROJECT_ROOT, stop_process
from benchmarks.latency import HIGH, LOW, SATISFACTION_RULE

AS_OF = "2026-06-30"
POLL_S = 0.1
Key = tuple[str, int]


class Serve:
    """``python -m junheng.cli serve`` on the worker's warehouse, its log in a file."""

    def __init__(
        self,
        warehouse: Path,
        log_path: Path,
        *,
        max_staleness: float,
        debounce: float,
        data_docs: bool,
        poll: float = 0.5,
        env: dict[str, str] | None = None,
    ) -> None:
        env = dict(os.environ if env is None else env, PYTHONWARNINGS="ignore::DeprecationWarning")
        for name in ("JUNHENG_ALERTMANAGER_URL", "JUNHENG_ALERT_WEBHOOK_URL"):  # deliver nothing anywhere
            env.pop(name, None)
        cmd = [sys.executable, "-m", "junheng.cli", "serve", "--warehouse", str(warehouse), "--as-of", AS_OF]
        cmd += ["--max-staleness", str(max_staleness), "--debounce", str(debounce), "--poll", str(poll)]
        if not data_docs:
            cmd.append("--no-data-docs")
        self.status_file = warehouse / "serve.json"
        self._log = open(log_path, "wb")
        self.log_path = log_path
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def status(self) -> dict[str, Any] | None:
        try:
            doc: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if doc.get("pid") == self.proc.pid else None

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> int:
        return stop_process(self.proc, self._log, 120)


class Watcher(threading.Thread):
    """Polls the published version; on each new one reads the probed state of every district-year
    and answers the oldest unanswered probe of each whose value it shows."""

    def __init__(self, warehouse: Path, serve: Serve) -> None:
        super().__init__(daemon=True, name="published-watcher")
        from junheng.layout import WarehouseLayout

        self.layout = WarehouseLayout(warehouse)
        self.serve = serve
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.version: int | None = None
        self.visible: dict[Key, float] = {}
        self.pending: dict[Key, deque[tuple[float, float, int | None]]] = defaultdict(deque)
        self.resolved: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []  # each version seen: when, and how long reading it took
        self.builds: dict[int, dict[str, Any]] = {}  # serve.json's last_build, by version
        self.read_errors = 0
        self.flips: dict[Key, list[float]] = defaultdict(list)  # when each district-year was flipped

    def probe(self, key: Key, value: float) -> None:
        """Call just before the probe is handed to the producer."""
        now = time.time()
        with self.lock:
            self.pending[key].append((now, value, self.version))
            self.flips[key].append(now)

    def min_flip_gap(self) -> float | None:
        """The closest two flips of one district-year (None: none was flipped twice)."""
        gaps = [b - a for times in self.flips.values() for a, b in zip(times, times[1:], strict=False)]
        return min(gaps, default=None)

    def unresolved(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.pending.values())

    def run(self) -> None:
        from junheng.build.publish import current_version

        while not self.stop.is_set():
            status = self.serve.status()
            last = (status or {}).get("last_build") or {}
            if last.get("ok") and last.get("version") is not None:
                self.builds[int(last["version"])] = last
            v = current_version(self.layout)
            if v is not None and v != self.version:
                seen = time.time()
                states = self._read(v)
                if states is not None:
                    self._resolve(v, seen, states)
                    self.versions.append({"version": v, "seen": seen, "read_s": round(time.time() - seen, 3)})
            self.stop.wait(POLL_S)

    def _read(self, version: int) -> dict[Key, float] | None:
        import duckdb

        from junheng.layout import DATABASE_NAME

        path = self.layout.published_version(version) / DATABASE_NAME
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                rows = con.execute(
                    "select district_code, year, list_contains(failed_items, ?) from mart_district_attainment",
                    [SATISFACTION_RULE],
                ).fetchall()
            finally:
                con.close()
        except (duckdb.Error, OSError):  # pruned under us (a version kept shorter than a read): skip it
            self.read_errors += 1
            return None
        return {(str(d), int(y)): (LOW if failing else HIGH) for d, y, failing in rows}

    def _resolve(self, version: int, seen: float, states: dict[Key, float]) -> None:
        with self.lock:
            self.version, self.visible = version, states
            for key, q in self.pending.items():
                if q and states.get(key) == q[0][1]:
                    sent_at, value, version_at_send = q.popleft()
                    self.resolved.append(
                        {
                            "key": list(key),
                            "latency_s": seen - sent_at,
                            "version": version,
                            "version_at_send": version_at_send,
                        }
                    )


def wait_serving(predicate: Callable[[], bool], timeout: float, what: str, serve: Serve) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if serve.proc.poll() is not None:
            raise RuntimeError(
                f"junheng serve exited with {serve.proc.returncode} waiting for {what}\n{serve.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"timeout ({timeout:.0f} s) waiting for {what}; serve: {serve.status()}\n{serve.log_tail()}"
            )
        time.sleep(0.2)
