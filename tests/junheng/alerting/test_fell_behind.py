"""An alert's "since" is when the district fell behind (issue #13, item 5): the event time (the
``occurred_at`` of the event that made the rule fail, to the minute), not when the pipeline first
evaluated it. Here a district attains in 2023, then a failed veto inspection with a known
``occurred_at`` makes it fail: every reader -- the worker hook, the alert book, the landed history,
the webhook, ``mart_alerts`` and the report -- says it fell behind at that minute."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
from factories import good_district, inspection

from junheng.alerting import AlertConfig, StreamAlerter, evaluate_and_send, load_book, state_path
from junheng.alerting.behind import ATTAINED, Walk
from junheng.alerting.history import read_history
from junheng.alerting.model import DISTRICT_ATTAINMENT_LOST, DISTRICT_VETOED, Alert, fingerprint
from streams.embedded import EmbeddedRunner

PROJECT_ROOT = Path(__file__).resolve().parents[3]
AS_OF = dt.date(2026, 6, 30)
#: the failed veto inspection: 10:17:42 in Qingdao is 02:17 UTC (seconds cut)
VETO_AT = "2024-03-05T10:17:42+08:00"
FELL_BEHIND = dt.datetime(2024, 3, 5, 2, 17, tzinfo=dt.UTC)
FELL_BEHIND_TEXT = "2024-03-05T02:17:00.000Z"


def write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def veto() -> dict[str, Any]:
    e = inspection("exam_admission", "fail", seq=1)
    e["occurred_at"] = VETO_AT
    return e


def t(minute: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1, 0, minute, tzinfo=dt.UTC)


def status(attained: bool | None, failed: tuple[str, ...] = (), undecided: tuple[str, ...] = (), at: Any = None):
    return {
        "district_code": "370202",
        "year": 2023,
        "attained": attained,
        "failed_items": json.dumps(list(failed)),
        "undecided_items": json.dumps(list(undecided)),
        "event_time": at,
    }


def test_the_walk_keeps_the_first_failing_row_after_the_last_passing_one():
    walk = Walk()
    for row in (
        status(True, at=t(1)),
        status(False, ("V1",), at=t(2)),  # falls behind here
        status(None, (), ("V1",), at=t(3)),  # undecided: neither passes nor fails
        status(False, ("V1", "G1"), at=t(4)),  # still behind since t(2); G1 from t(4)
    ):
        walk.status(row)
    key = ("370202", 2023)
    assert walk.since[(*key, ATTAINED)] == t(2)
    assert walk.since[(*key, "V1")] == t(2) and walk.since[(*key, "G1")] == t(4)
    walk.status(status(False, ("G1",), at=t(5)))  # V1 passes again, G1 still fails
    assert (*key, "V1") not in walk.since and walk.since[(*key, "G1")] == t(4)
    walk.status(status(True, at=t(6)))
    assert not walk.since
    walk.status(status(False, ("V1",), at=t(7)))  # a new episode: since its own event
    assert walk.since[(*key, ATTAINED)] == t(7) == walk.since[(*key, "V1")]


def test_fell_behind_at_is_cut_to_the_minute_and_survives_the_book():
    a = Alert(
        "DistrictBehind", "370202", "C5", 2025, "major", "s", "d", fell_behind_at=dt.datetime(2024, 3, 5, 2, 17, 42)
    )
    assert a.fell_behind_at == FELL_BEHIND
    assert Alert.from_dict(a.to_dict()).fell_behind_at == FELL_BEHIND
    assert a.annotations["fell_behind_at"] == FELL_BEHIND_TEXT
    # refreshed by a later evaluation that knows a later time: the episode keeps its first one
    fired = a.fired(dt.datetime(2026, 6, 30, tzinfo=dt.UTC))
    later = Alert("DistrictBehind", "370202", "C5", 2025, "major", "s", "d", fell_behind_at=t(9))
    assert fired.refreshed(later, dt.datetime(2026, 7, 1, tzinfo=dt.UTC)).fell_behind_at == FELL_BEHIND
    unknown = Alert("DistrictBehind", "370202", "C5", 2025, "major", "s", "d").fired(t(0))
    assert unknown.refreshed(later, t(10)).fell_behind_at == t(9)  # unknown until now: learnt


class HookedRunner(EmbeddedRunner):
    """The embedded driver with the worker hook after landing, as the pipeline calls it."""

    def __init__(self, warehouse: Path, alerter: StreamAlerter) -> None:
        super().__init__(warehouse)
        self.alerter = alerter
        self.runs: list[Any] = []

    def land(self, result, batch):
        super().land(result, batch)
        self.runs.append(self.alerter.on_statuses(result.statuses, result.applied))


def test_the_stream_alert_says_when_the_veto_happened_from_the_hook_and_from_the_landing(tmp_path, receiver):
    files = [write(tmp_path / "1.jsonl", good_district()), write(tmp_path / "2.jsonl", [veto()])]
    hooked = tmp_path / "hooked"
    runner = HookedRunner(hooked, StreamAlerter(hooked, webhook_url=receiver.url + "/hook"))
    for f in files:
        runner.run([f])
    [fired] = runner.runs[-1].fired
    assert fired.alert_id == fingerprint(DISTRICT_ATTAINMENT_LOST, "370202", "ATTAINMENT", 2023)
    assert fired.fell_behind_at == FELL_BEHIND and fired.starts_at > FELL_BEHIND
    [item] = [e for body in receiver.bodies("/hook") for e in body["alerts"]]
    assert item["fell_behind_at"] == item["annotations"]["fell_behind_at"] == FELL_BEHIND_TEXT
    [row] = read_history(hooked / "landing")
    assert row["fell_behind_at"] == FELL_BEHIND.replace(tzinfo=None)
    book = json.loads(state_path(hooked).read_text(encoding="utf-8"))
    assert book["alerts"][fired.alert_id]["fell_behind_at"] == FELL_BEHIND_TEXT

    # the same files, alerts evaluated afterwards from the landing alone: the same time
    plain = tmp_path / "plain"
    for f in files:
        EmbeddedRunner(plain).run([f])
    run = evaluate_and_send(
        plain, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False, config=AlertConfig(marts=False)
    )
    assert [(a.alert_id, a.fell_behind_at) for a in run.fired] == [(fired.alert_id, FELL_BEHIND)]
    assert load_book(state_path(plain)).memory == load_book(state_path(hooked)).memory


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


def test_the_book_mart_alerts_and_the_report_say_when_the_district_fell_behind(tmp_path):
    """Built the real way (`junheng run`: land, dbt, alerts, mart_alerts, report), twice: the district
    attains, then the veto; the veto's alert fell behind at the veto's minute everywhere, and each
    missed deadline at the end of its due day in Qingdao."""
    wh = tmp_path / "wh"
    run = ("--warehouse", str(wh), "--json", "--no-gx", "--as-of", str(AS_OF))
    first = _junheng("run", str(write(tmp_path / "1.jsonl", good_district())), *run)
    assert first["applied"] > 0
    second = _junheng("run", str(write(tmp_path / "2.jsonl", [veto()])), *run)
    assert second["applied"] == 1
    vetoed = fingerprint(DISTRICT_VETOED, "370202", "V1", 2023)

    book = json.loads(state_path(wh).read_text(encoding="utf-8"))["alerts"]
    assert book[vetoed]["state"] == "firing" and book[vetoed]["fell_behind_at"] == FELL_BEHIND_TEXT

    con = duckdb.connect(str(wh / "junheng.duckdb"), read_only=True)
    try:
        mart = dict(
            con.execute(
                "select alert_id, fell_behind_at from main.mart_alerts where is_open and district_code is not null"
            ).fetchall()
        )
        behind = con.execute(
            "select alertname, rule_id from main.mart_alerts where is_open and fell_behind_at = ? order by 1",
            [FELL_BEHIND.replace(tzinfo=None)],
        ).fetchall()
        deadlines = con.execute(
            """select year, rule_id, fell_behind_at from main.mart_alerts
               where is_open and alertname = 'DistrictDeadlineMissed'"""
        ).fetchall()
    finally:
        con.close()
    assert mart[vetoed] == FELL_BEHIND.replace(tzinfo=None)
    # the veto made the district-year unattained: DCY and the lost attainment fell behind with it
    assert behind == [("DistrictAttainmentLost", "ATTAINMENT"), ("DistrictBehind", "DCY"), ("DistrictVetoed", "V1")]
    assert deadlines, "the district records no milestones: its deadlines are missed"
    dues = {"D1": (0, 12, 31), "D2": (1, 3, 31), "D3": (1, 5, 31)}  # rules/catalogue: year_offset, month, day
    for year, rule_id, at in deadlines:  # 00:00 +08:00 after the due day, i.e. 16:00 UTC on it
        offset, month, day = dues[rule_id]
        assert at == dt.datetime(year + offset, month, day, 16, 0), (rule_id, at)
    # every open district alert knows when its district fell behind
    assert all(at is not None for at in mart.values()), mart

    html = (wh / "report" / "index.html").read_text(encoding="utf-8")
    row = re.search(rf'<tr[^>]*data-alert="{vetoed}"[^>]*>(.*?)</tr>', html, re.S)
    assert row is not None, "the vetoed alert is in the report"
    assert re.search(r'class="since"[^>]*>2024-03-05 02:17 UTC<', row.group(1)), row.group(1)


def test_history_landed_before_fell_behind_at_existed_builds_with_it_null(warehouse_copy):
    """A warehouse whose alert history predates the column (its files lack it) still builds
    mart_alerts: the column is there, null, and the report falls back to starts_at."""
    import pyarrow as pa
    from alerting_helpers import dbt

    from junheng.alerting.history import SCHEMA, TABLE, event_row
    from junheng.alerting.model import DISTRICT_BEHIND, alert_event
    from streams.landing import LandingWriter

    now = dt.datetime(2026, 6, 30, 8, 5, 43, tzinfo=dt.UTC)
    alert = Alert(DISTRICT_BEHIND, "370202", "C5", 2025, "major", "s", "d", fell_behind_at=FELL_BEHIND).fired(now)
    old = pa.schema([f for f in SCHEMA if f.name != "fell_behind_at"])
    writer = LandingWriter(warehouse_copy / "landing", "alerts", schemas={TABLE: old})
    writer.write(TABLE, [event_row(alert_event(alert, evaluated_at=now, run_id="old", as_of=AS_OF))], 0)
    build = dbt(["build", "--select", "mart_alerts"], warehouse_copy)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]
    con = duckdb.connect(str(warehouse_copy / "junheng.duckdb"), read_only=True)
    try:
        rows = con.execute("select alert_id, fell_behind_at, starts_at from main.mart_alerts").fetchall()
    finally:
        con.close()
    assert rows == [(alert.alert_id, None, now.replace(tzinfo=None))]
