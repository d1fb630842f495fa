"""Helpers for the alerting tests (imported by conftest.py and the tests; a module name of its own,
so it never collides with another folder's conftest)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
AM_CONFIG = ROOT / "infra" / "alertmanager" / "alertmanager.yml"
VENV_BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 6, 30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 15.0, every: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(every)


# ---------------------------------------------------------------------- webhook receiver
@dataclass
class Receiver:
    """A tiny HTTP server on loopback recording every POST (path, JSON body). ``fail_next``
    makes the next requests answer with the given status codes."""

    server: ThreadingHTTPServer
    posts: list[tuple[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path: str | None = None) -> list[Any]:
        with self.lock:
            return [b for p, b in self.posts if path is None or p == path]

    def clear(self) -> None:
        with self.lock:
            self.posts.clear()


# ---------------------------------------------------------------------- Alertmanager
def alertmanager_binary() -> str:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not found:
        pytest.fail(
            "Alertmanager is needed by the alerting tests and was not found: install it with "
            "`apt-get install -y prometheus-alertmanager` (Debian: /usr/bin/prometheus-alertmanager)",
            pytrace=False,
        )
    return found


def am_test_config(receiver_url: str) -> dict[str, Any]:
    """infra/alertmanager/alertmanager.yml with its webhook receivers pointed at the test receiver
    (same paths) and short group timings, so a test sees notifications within seconds."""
    config = yaml.safe_load(AM_CONFIG.read_text(encoding="utf-8"))

    def speed_up(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is config["route"]:
                route[key] = "1s"
        route["repeat_interval"] = "1h"
        for sub in route.get("routes", []):
            speed_up(sub)

    speed_up(config["route"])
    for rec in config["receivers"]:
        for hook in rec.get("webhook_configs", []):
            path = urllib.request.urlparse(hook["url"]).path
            hook["url"] = receiver_url + path
            assert hook.get("send_resolved") is True, f"receiver {rec['name']} must send resolved notifications"
    return config


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen
    log: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return json.loads(resp.read())

    def active(self, **match: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.get("/api/v2/alerts?active=true&silenced=false&inhibited=true")
            if all(a["labels"].get(k) == v for k, v in match.items())
        ]

    def groups(self) -> list[dict[str, Any]]:
        return self.get("/api/v2/alerts/groups")


# ---------------------------------------------------------------------- a warehouse built by dbt
def dbt(args: list[str], warehouse: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dbt", path=str(VENV_BIN))
    assert exe, "dbt is a dependency of the project: run scripts/bootstrap.sh"
    env = dict(os.environ, JUNHENG_WAREHOUSE=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [
        exe,
        *args,
        "--project-dir",
        str(ROOT / "dbt_project"),
        "--profiles-dir",
        str(ROOT / "dbt_project"),
        "--target-path",
        str(warehouse / "dbt-target"),
        "--log-path",
        str(warehouse / "dbt-logs"),
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


# ---------------------------------------------------------------------- hand-made marts
def fake_marts(
    path: Path,
    accountability: list[tuple],
    attainment: list[tuple] = (),
    city: list[tuple] = (),
    as_of: dt.date = AS_OF,
    outlook: list[tuple] = (),
) -> Path:
    """A DuckDB file with just the mart columns the alert source reads, for exact, fast cases.

    accountability: (district_code, year, declared_creation_year, attained, on_track, behind_reasons)
    attainment:     (district_code, year, vetoed, attained, failed_items)
    city:           (year, districts_total, districts_attained, target_share, on_track, c4_passed, c10_passed)
    outlook:        (district_code, year, declared_creation_year, plan_deadline_year, district_projected_year,
                     at_risk, risk_items, [(item, item_projected_year), ...])   (mart_district_outlook)
    """
    import duckdb

    from ingestion.reference import load_districts

    names = {c: d.name_zh for c, d in load_districts().items()}
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        con.execute("""create table mart_district_accountability (district_code varchar, district_name varchar,
                       year integer, declared_creation_year integer, attained boolean, on_track boolean,
                       behind_reasons varchar[], as_of date)""")
        con.execute("""create table mart_district_attainment (district_code varchar, district_name varchar,
                       year integer, vetoed boolean, attained boolean, failed_items varchar[], undecided_items varchar[])""")
        con.execute("""create table mart_city_progress (year integer, districts_total integer, districts_attained integer,
                       attained_share double, target_share double, on_track boolean, c4_value double,
                       c4_threshold double, c4_passed boolean, c10_value double, c10_threshold double,
                       c10_passed boolean)""")
        con.execute("""create table mart_district_outlook (district_code varchar, district_name varchar, year integer,
                       declared_creation_year integer, plan_deadline_year integer, target_year integer,
                       attained boolean, district_projected_year integer, at_risk boolean, risk_items varchar[],
                       item varchar, item_projected_year integer, item_latest_value double, item_threshold double,
                       item_drives_risk boolean)""")
        for code, year, declared, deadline, projected, at_risk, risk, items in outlook:
            target = min(y for y in (declared, deadline) if y is not None)
            for item, item_year in items or [(None, None)]:
                con.execute(
                    "insert into mart_district_outlook values (?, ?, ?, ?, ?, ?, false, ?, ?, ?, ?, ?, 1, 2, ?)",
                    [
                        code,
                        names.get(code, code),
                        year,
                        declared,
                        deadline,
                        target,
                        projected,
                        at_risk,
                        list(risk),
                        item,
                        item_year,
                        item in risk,
                    ],
                )
        for code, year, declared, attained, on_track, reasons in accountability:
            con.execute(
                "insert into mart_district_accountability values (?, ?, ?, ?, ?, ?, ?, ?)",
                [code, names.get(code, code), year, declared, attained, on_track, list(reasons), as_of],
            )
        for code, year, vetoed, attained, failed in attainment:
            con.execute(
                "insert into mart_district_attainment values (?, ?, ?, ?, ?, ?, ?)",
                [code, names.get(code, code), year, vetoed, attained, list(failed), []],
            )
        for year, total, attained, target, on_track, c4, c10 in city:
            con.execute(
                "insert into mart_city_progress values (?, ?, ?, ?, ?, ?, 2.5, 20, ?, 12, 30, ?)",
                [year, total, attained, attained / total, target, on_track, c4, c10],
            )
    finally:
        con.close()
    return path
