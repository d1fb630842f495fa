"""Fixtures for the alerting tests: a real Alertmanager on loopback, a webhook receiver, a
warehouse built by the CLI and dbt.

Alertmanager is not optional: without /usr/bin/prometheus-alertmanager the tests that need it
FAIL (they never skip), saying how to install it (`apt-get install -y prometheus-alertmanager`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from alerting_helpers import (
    AS_OF,
    ROOT,
    VENV_BIN,
    Alertmanager,
    Receiver,
    alertmanager_binary,
    am_test_config,
    dbt,
    free_port,
    wait_until,
)


@pytest.fixture
def receiver():
    """A webhook receiver on loopback recording every POST."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            rec = holder["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                code = rec.fail_next.pop(0) if rec.fail_next else 200
                if code == 200:
                    rec.posts.append((self.path, json.loads(body or b"null")))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(receiver, tmp_path):
    """A fresh Alertmanager on a free loopback port, configured by infra/alertmanager/alertmanager.yml
    with its receivers pointed at `receiver` and 1 s group timings; stopped after the test."""
    binary = alertmanager_binary()
    config_path = tmp_path / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(am_test_config(receiver.url)), encoding="utf-8")
    port = free_port()
    log = tmp_path / "alertmanager.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", proc, log)

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"Alertmanager exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(am.url + "/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, 20, what="Alertmanager /-/ready")
        yield am
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def marts_warehouse(tmp_path_factory) -> Path:
    """A small city run through the CLI (`junheng run … --no-gx`) and built by `dbt build` with
    deadlines judged on AS_OF. Tests copy it (warehouse_copy) before changing anything."""
    from ingestion.synthetic import generate_city

    wh = tmp_path_factory.mktemp("marts-warehouse")
    events = wh / "events.jsonl"
    generate_city(seed=5, schools=40).write_jsonl(events)
    junheng = shutil.which("junheng", path=str(VENV_BIN))
    assert junheng, "the junheng CLI is installed in the venv (pip install -e .)"
    t0 = time.perf_counter()
    run = subprocess.run(
        [junheng, "run", str(events), "--warehouse", str(wh), "--no-gx", "--no-build", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    build = dbt(["build", "--vars", json.dumps({"as_of": AS_OF.isoformat()})], wh)
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-2000:]
    print(f"marts warehouse: junheng run + dbt build in {time.perf_counter() - t0:.1f} s")
    return wh


@pytest.fixture
def warehouse_copy(marts_warehouse, tmp_path) -> Path:
    dest = tmp_path / "wh"
    shutil.copytree(marts_warehouse, dest, ignore=shutil.ignore_patterns("dbt-target", "dbt-logs", "alerts"))
    return dest
