"""`junheng status` (issue #12 item 4) on a real built warehouse, without Kafka: the published
version and its age, the open alerts as the alert book holds them, the catalogue, the version, the
engine; the lag is said to be unknown because Kafka does not answer, not guessed. (With a running
worker and the lag: tests/kafka/test_metrics_prometheus.py.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _status(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "junheng.cli", "status", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_of_a_built_warehouse_without_kafka(built_copy):
    from junheng import __version__
    from junheng.alerting.book import load_book
    from junheng.compiled_engine import build_state

    wh = built_copy("status")
    kafka = f"127.0.0.1:{_closed_port()}"
    done = _status("--warehouse", str(wh), "--json", JUNHENG_KAFKA_BOOTSTRAP=kafka, JUNHENG_CATALOGUE="qingdao-2021")
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert s["version"] == __version__ and s["catalogue"] == "qingdao-2021"
    assert s["engine"]["kind"] == ("compiled" if build_state()[0] else "pure")
    published = s["build"]["published"]
    assert published["version"] == 1 and published["as_of"] == "2026-06-30" and 0 <= published["age_s"] < 3600
    assert published["catalogue"] == "qingdao-2021"
    firing = load_book(wh / "alerts" / "state.json").firing()
    assert s["alerts"]["evaluated"] and s["alerts"]["firing"] == len(firing) > 0
    assert {(a["alertname"], a["district_code"]) for a in s["alerts"]["open"]} == {
        (a.alertname, a.district_code) for a in firing
    }
    assert s["worker"] is None  # the embedded driver built it: no worker has run here
    assert s["kafka"]["reachable"] is False and "not reachable" in s["kafka"]["error"] and "lag" not in s["kafka"]

    text = _status("--warehouse", str(wh), JUNHENG_KAFKA_BOOTSTRAP=kafka, JUNHENG_ENGINE="pure")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert (
        lines[0].startswith(f"junheng {__version__} · catalogue ") and "engine pure (JUNHENG_ENGINE=pure)" in lines[0]
    )
    assert any(line.startswith("lag        unknown: Kafka is not reachable") for line in lines), text.stdout
    assert any(line.startswith("build      version 1 built ") for line in lines), text.stdout
    assert f"alerts     {len(firing)} firing" in lines

    assert "not checked" in _status("--warehouse", str(wh), "--no-kafka").stdout


def test_status_refuses_a_missing_warehouse(tmp_path):
    done = _status("--warehouse", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr.strip()
        == f"junheng status: no warehouse at {tmp_path / 'nowhere'}: pass --warehouse DIR or set JUNHENG_WAREHOUSE"
    )


@pytest.fixture(autouse=True)
def _no_receivers(monkeypatch):
    for name in ("JUNHENG_ALERTMANAGER_URL", "JUNHENG_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
