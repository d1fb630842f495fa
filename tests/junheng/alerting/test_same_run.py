"""Alerts in the same run (issue #10, item 5): after `junheng run` builds, the firing alerts it
reports, the alert book, `mart_alerts` and the report agree -- also after a correction resolves
one. They used to be one build late: the build made mart_alerts from the previous evaluation's
history, so the demo's report said "no open alerts" while 26 were firing, and after a correction
it still listed the resolved one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[3]
AS_OF = "2026-06-30"


def _junheng(*args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNHENG_ALERT")}
    env.pop("JUNHENG_ALERTMANAGER_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "junheng.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _agreement(warehouse: Path) -> dict[str, set[str]]:
    """The open alerts as each reader sees them: the alert book, mart_alerts, the report."""
    book = json.loads((warehouse / "alerts" / "state.json").read_text(encoding="utf-8"))
    firing = (
        {alert_id for alert_id, a in book["alerts"].items() if a.get("state", "firing") == "firing"}
        if isinstance(book.get("alerts"), dict)
        else set()
    )
    con = duckdb.connect(str(warehouse / "junheng.duckdb"), read_only=True)
    try:
        mart = {r[0] for r in con.execute("select alert_id from main.mart_alerts where is_open").fetchall()}
    finally:
        con.close()
    html = (warehouse / "report" / "index.html").read_text(encoding="utf-8")
    report = set(re.findall(r'data-alert="([0-9a-f]+)"', html))
    return {"book": firing, "mart_alerts": mart, "report": report}


def test_the_run_mart_alerts_and_the_report_agree_also_after_a_correction(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _junheng("generate", "--out", str(events), "--schools", "150")
    warehouse = tmp_path / "wh"
    first = _junheng("run", str(events), "--warehouse", str(warehouse), "--json", "--no-gx", "--as-of", AS_OF)
    seen = _agreement(warehouse)
    assert first["alerts"]["firing"] > 0
    # mart_alerts is a view over the history: only the build that lands the first file runs dbt again
    assert "dbt_alerts" in first["build"]["timings"]
    assert len(seen["mart_alerts"]) == first["alerts"]["firing"], seen
    assert seen["book"] == seen["mart_alerts"] == seen["report"], seen

    # a correction: a district that missed D3 (apply for recognition by 31 May of the next year)
    # did apply in time; its alert resolves in the very run that lands the milestone
    con = duckdb.connect(str(warehouse / "junheng.duckdb"), read_only=True)
    try:
        row = con.execute(
            "select alert_id, district_code, year from main.mart_alerts where is_open and "
            "alertname = 'DistrictDeadlineMissed' and rule_id = 'D3' order by 2, 3 limit 1"
        ).fetchone()
    finally:
        con.close()
    assert row is not None, "the sample city has no missed D3 deadline to correct"
    alert_id, district, year = row
    milestone = {
        "event_id": str(uuid.uuid4()),
        "event_type": "district.milestone",
        "schema_version": 1,
        "occurred_at": f"{year + 1}-04-01T09:00:00+08:00",
        "source": "tests",
        "district_code": district,
        "year": year,
        "seq": 1_000_000,
        "payload": {"kind": "recognition_application", "on": f"{year + 1}-04-01"},
    }
    correction = tmp_path / "correction.jsonl"
    correction.write_text(json.dumps(milestone) + "\n", encoding="utf-8")
    second = _junheng("run", str(correction), "--warehouse", str(warehouse), "--json", "--no-gx", "--as-of", AS_OF)
    assert second["applied"] == 1 and second["alerts"]["resolved"] >= 1
    assert "dbt_alerts" not in second["build"]["timings"], "one dbt run: the view reads the new history"
    after = _agreement(warehouse)
    assert alert_id not in after["mart_alerts"]
    assert after["book"] == after["mart_alerts"] == after["report"], after
    assert len(after["mart_alerts"]) == second["alerts"]["firing"]
    con = duckdb.connect(str(warehouse / "junheng.duckdb"), read_only=True)
    try:
        states = con.execute(
            "select state from main.mart_alerts where alert_id = ? order by changed_at", [alert_id]
        ).fetchall()
    finally:
        con.close()
    assert [s[0] for s in states] == ["firing", "resolved"]
