"""A real Prometheus for the tests (the Debian package `prometheus`, scripts/system-deps.sh), started
on loopback with a temporary configuration: scrape targets, rule files, PromQL through its HTTP API.
It is not optional: without it a test FAILS, saying how to install it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, detail: Callable[[], str] = lambda: "") -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` (and `detail()`) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timeout ({timeout:.0f} s) waiting for {what}\n{detail()}", pytrace=False)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")
    except OSError as exc:
        return 0, str(exc)


class Prometheus:
    """A real Prometheus scraping `targets` every second, its data in a temporary folder."""

    def __init__(
        self, tmp: Path, jobs: dict[str, list[str]], rules: Path | None = None, alertmanagers: list[str] | None = None
    ) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail(
                "Prometheus is not installed: run scripts/system-deps.sh (Debian package `prometheus`)", pytrace=False
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in jobs.items()
            ],
        }
        if rules is not None:
            config["rule_files"] = [str(rules)]
        if alertmanagers:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]}
        path = tmp / "prometheus.yml"
        path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        self.log = tmp / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={path}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: self.proc.poll() is not None or http_get(f"{self.url}/-/ready")[0] == 200,
            60,
            "Prometheus to be ready",
            self.tail,
        )
        if self.proc.poll() is not None:
            pytest.fail(f"Prometheus exited with {self.proc.returncode}\n{self.tail()}", pytrace=False)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query through the HTTP API: its vector's samples."""
        status, body = http_get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert status == 200, f"{promql}: HTTP {status} {body}"
        data = json.loads(body)["data"]
        assert data["resultType"] == "vector", data
        return list(data["result"])

    def value(self, promql: str) -> float | None:
        """The one sample of `promql` (None when there is none yet)."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def by(self, promql: str, label: str) -> dict[str, float]:
        return {r["metric"][label]: float(r["value"][1]) for r in self.query(promql)}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
