"""`junheng run`'s exit codes and what it says about alert delivery (issue #12, item 6): `--strict`
exits 3 when lines were dead-lettered; a failed alert delivery exits 4 and says how many attempts
were made (JUNHENG_ALERT_RETRIES); a delivered webhook is not reported as "no receiver"; a path
where no warehouse can be made is one line and exit 2, with nothing made."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import factories as f
import pytest

from ingestion.synthetic import generate_city

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-30"


def _junheng(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JUNHENG_ALERT")}
    return subprocess.run(
        [sys.executable, "-m", "junheng.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
    )


@pytest.fixture(scope="module")
def city_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("city") / "city.jsonl"
    generate_city(seed=3, schools=30, bad_fraction=0.02).write_jsonl(path)
    return path


@pytest.fixture
def webhook() -> Iterator[Any]:
    """A real HTTP receiver on loopback that records every POST's JSON body."""
    bodies: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.bodies = bodies  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


def test_strict_exits_3_when_lines_were_dead_lettered(city_file: Path, tmp_path: Path) -> None:
    wh = str(tmp_path / "wh")
    plain = _junheng("run", str(city_file), "--warehouse", wh, "--no-build", "--no-gx", "--json")
    counts = json.loads(plain.stdout)
    assert plain.returncode == 0 and counts["dead_lettered"] > 0 and counts["exit_code"] == 0
    strict = _junheng("run", str(city_file), "--warehouse", wh, "--no-build", "--no-gx", "--strict")
    assert strict.returncode == 3, strict.stderr
    assert f"{counts['dead_lettered']} line(s) dead-lettered (--strict)" in strict.stderr
    assert "junheng dlq list" in strict.stderr

    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(e) + "\n" for e in f.good_district(schools=1)), encoding="utf-8")
    ok = _junheng(
        "run", str(clean), "--warehouse", str(tmp_path / "wh2"), "--no-build", "--no-gx", "--strict", "--json"
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["dead_lettered"] == 0


@pytest.mark.slow
def test_a_delivered_webhook_is_reported_as_delivered(city_file: Path, tmp_path: Path, webhook: Any) -> None:
    wh = str(tmp_path / "wh")
    out = _junheng(
        "run", str(city_file), "--warehouse", wh, "--no-gx", "--as-of", AS_OF, JUNHENG_ALERT_WEBHOOK_URL=webhook.url
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert webhook.bodies, "the run's alerts were posted to the webhook"
    assert "delivered to webhook" in out.stdout
    for wrong in ("no receiver configured", "set JUNHENG_ALERTMANAGER_URL"):
        assert wrong not in out.stdout + out.stderr
    again = _junheng(
        "run", str(city_file), "--warehouse", wh, "--no-gx", "--as-of", AS_OF, JUNHENG_ALERT_WEBHOOK_URL=webhook.url
    )
    assert again.returncode == 0 and "nothing new to deliver to webhook" in again.stdout
    assert "no receiver configured" not in again.stdout


@pytest.mark.slow
@pytest.mark.parametrize("retries", ["1", "2"])
def test_a_failed_delivery_exits_4_and_counts_its_attempts(city_file: Path, tmp_path: Path, retries: str) -> None:
    with socket.socket() as s:  # a port nothing listens on: every attempt is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = _junheng(
        "run",
        str(city_file),
        "--warehouse",
        str(tmp_path / "wh"),
        "--no-gx",
        "--as-of",
        AS_OF,
        JUNHENG_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        JUNHENG_ALERT_RETRIES=retries,
    )
    assert out.returncode == 4, out.stdout[-2000:] + out.stderr[-2000:]
    attempts = "1 attempt:" if retries == "1" else f"{retries} attempts:"
    assert f"alert delivery to webhook (http://127.0.0.1:{port}/hook) FAILED after {attempts}" in out.stderr
    assert "after 3 attempts" not in out.stderr


@pytest.mark.parametrize("where", ["file", "file/sub", "/proc/no/such/warehouse"])
def test_a_path_where_no_warehouse_can_be_made_is_one_line_and_exit_2(
    city_file: Path, tmp_path: Path, where: str
) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    target = where if where.startswith("/") else str(tmp_path / where)
    for command in (["run", str(city_file), "--no-build"], ["demo", "--no-build"]):
        out = _junheng(*command, "--warehouse", target)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and "cannot make a warehouse folder" in lines[0], out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
