"""Fixtures of the report tests.

`report_warehouse` is built once per session, the way an operator builds one: the synthetic city
(`generate_city(seed=5, schools=80)`) written to JSONL, `junheng run FILE --warehouse DIR --no-gx`
(the embedded driver), then `dbt build` with deadlines judged on a fixed date. About 30 s.

`demo_warehouse` is `junheng demo --schools 200 --no-gx --as-of 2026-06-30` in a tmp folder (about
60 s), the warehouse a new user makes: landed, built, published and alerted on; the PDF test prints
its report.

`mart_db` builds, in a few milliseconds, a DuckDB file holding just the marts' tables with their
contract columns (read from dbt_project/models/marts/*.yml), for the unit tests to fill with rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROJECT = ROOT / "dbt_project"
BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 6, 30)  # deadlines judged, and alerts read, on a fixed date


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN))
    assert found, f"{name} is not installed beside {sys.executable}: run scripts/bootstrap.sh"
    return found


@pytest.fixture(scope="session")
def report_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ingestion.synthetic import generate_city

    wh = tmp_path_factory.mktemp("report-warehouse")
    events = wh / "events.jsonl"
    generate_city(seed=5, schools=80).write_jsonl(events)
    start = time.perf_counter()
    run = subprocess.run(
        [_tool("junheng"), "run", str(events), "--warehouse", str(wh), "--no-gx", "--no-build", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["applied"] > 0
    env = dict(os.environ, JUNHENG_WAREHOUSE=str(wh), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    build = subprocess.run(
        [
            _tool("dbt"),
            "build",
            "--vars",
            json.dumps({"as_of": AS_OF.isoformat()}),
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target-path",
            str(wh / "dbt-target"),
            "--log-path",
            str(wh / "dbt-logs"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, "dbt build failed:\n" + build.stdout[-6000:] + build.stderr[-2000:]
    print(f"report warehouse: junheng run + dbt build in {time.perf_counter() - start:.1f} s")
    return wh


@pytest.fixture(scope="session")
def report_as_of() -> dt.date:
    return AS_OF


@pytest.fixture(scope="session")
def report_file(report_warehouse: Path) -> Path:
    from junheng.report import write_report

    start = time.perf_counter()
    path = write_report(report_warehouse, as_of=AS_OF)
    print(f"write_report: {time.perf_counter() - start:.2f} s, {path.stat().st_size:,} bytes")
    assert path == report_warehouse / "report" / "index.html"
    return path


# ---------------------------------------------------------------------------------------------------
# a warehouse with only the marts' tables, for unit tests


def contract_columns() -> dict[str, list[tuple[str, str]]]:
    """mart → [(column, data_type)] from the enforced dbt contracts."""
    marts: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((PROJECT / "models" / "marts").glob("*.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            marts[model["name"]] = [(c["name"], c["data_type"]) for c in model["columns"]]
    return marts


MartWriter = Callable[..., Path]


@pytest.fixture
def mart_db(tmp_path: Path) -> MartWriter:
    """make(**{mart: [row dicts]}) → the warehouse folder holding junheng.duckdb with every mart table
    (empty unless rows are given); columns a row leaves out are null."""

    def make(**rows: list[dict[str, Any]]) -> Path:
        wh = tmp_path / "wh"
        wh.mkdir(exist_ok=True)
        con = duckdb.connect(str(wh / "junheng.duckdb"))
        try:
            for mart, columns in contract_columns().items():
                con.execute(
                    f"create or replace table main.{mart} (" + ", ".join(f'"{n}" {t}' for n, t in columns) + ")"
                )
                names = [n for n, _ in columns]
                for row in rows.get(mart, []):
                    unknown = set(row) - set(names)
                    assert not unknown, f"{mart} has no column {unknown}"
                    con.execute(
                        f"insert into main.{mart} values ({', '.join('?' for _ in names)})", [row.get(n) for n in names]
                    )
        finally:
            con.close()
        return wh

    return make


# ---------------------------------------------------------------------------------------------------
# the demo warehouse, built the way a new user builds it

DEMO_SCHOOLS = 200  # the demo's city, smaller than its default 1,000 schools: ≈ 30 s instead of minutes


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`junheng demo --warehouse DIR --schools 200 --no-gx --as-of 2026-06-30`: the sample city landed,
    built (dbt), checked, published and alerted on, with this worktree's code first on the path."""
    wh = tmp_path_factory.mktemp("report-demo") / "warehouse"
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "junheng.cli",
            "demo",
            "--warehouse",
            str(wh),
            "--schools",
            str(DEMO_SCHOOLS),
            "--no-gx",
            "--as-of",
            AS_OF.isoformat(),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert (wh / "junheng.duckdb").is_file(), "the demo published no marts"
    print(f"demo warehouse: junheng demo in {time.perf_counter() - start:.1f} s")
    return wh
