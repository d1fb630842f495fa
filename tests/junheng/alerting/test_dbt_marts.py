"""End to end on a warehouse built the real way (`junheng run … --no-gx`, then `dbt build`):
the marts' conditions become alerts, Alertmanager and the webhook get them, a district catching up
resolves its alerts, and dbt's mart_alerts shows the history under its contract."""

from __future__ import annotations

import duckdb
import pytest
from alerting_helpers import AS_OF, dbt, wait_until

from junheng.alerting import AlertConfig, evaluate_and_send
from junheng.alerting.delivery import RetryPolicy
from junheng.alerting.history import read_history
from junheng.alerting.sources import read_marts

pytestmark = [pytest.mark.slow]
CONTRACT = ["alert_id", "district_code", "rule_id", "severity", "state", "starts_at", "ends_at", "summary"]
DEADLINES = ("D1", "D2", "D3")


def expected_conditions(db) -> set[tuple]:
    """What the marts say is wrong, computed here in SQL, independently of the alert source."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        behind = con.execute(
            """
            with cur as (select district_code, max(year) as y from mart_district_accountability
                         where year <= ? group by district_code)
            select distinct a.district_code, a.year, split_part(r, ':', 1) as rid
            from mart_district_accountability as a join cur using (district_code), unnest(a.behind_reasons) as t(r)
            where a.on_track = false
              and (a.year = cur.y or (split_part(r, ':', 1) in ('D1', 'D2', 'D3') and a.year = cur.y - 1))
        """,
            [AS_OF.year],
        ).fetchall()
        vetoes = con.execute(
            """
            with cur as (select district_code, max(year) as y from mart_district_attainment
                         where year <= ? group by district_code)
            select a.district_code, a.year, v from mart_district_attainment as a join cur using (district_code),
                   unnest(a.failed_items) as t(v)
            where a.year = cur.y and a.vetoed and v like 'V%'
        """,
            [AS_OF.year],
        ).fetchall()
        at_risk = con.execute(
            """select distinct district_code, year from mart_district_outlook
                                 where at_risk and year <= ? and ? <= target_year""",
            [AS_OF.year, AS_OF.year],
        ).fetchall()
        city = con.execute(
            """select year, on_track, c4_passed, c10_passed from mart_city_progress
                              where year <= ? order by year desc limit 1""",
            [AS_OF.year],
        ).fetchone()
    finally:
        con.close()
    out = {
        ("DistrictDeadlineMissed" if rid in DEADLINES else "DistrictBehind", code, rid, year)
        for code, year, rid in behind
    }
    out |= {("DistrictVetoed", code, rid, year) for code, year, rid in vetoes}
    out |= {("DistrictAtRisk", code, "OUTLOOK", year) for code, year in at_risk}
    year, on_track, c4, c10 = city
    if on_track is False:
        out.add(("CityOffTrack", None, "C1", year))
    out |= {("CityTargetMissed", None, rid, year) for rid, ok in (("C4", c4), ("C10", c10)) if ok is False}
    return out


def test_marts_conditions_are_what_the_marts_say(marts_warehouse):
    db = marts_warehouse / "junheng.duckdb"
    src = read_marts(db, as_of=AS_OF)
    assert src.ok and not src.warnings, src.as_dict()
    got = {(a.alertname, a.district_code, a.rule_id, a.year) for a in src.alerts}
    assert got == expected_conditions(db)
    assert len(got) == len(src.alerts) >= 5
    assert {a.alertname for a in src.alerts} >= {"DistrictBehind", "DistrictDeadlineMissed", "CityOffTrack"}
    rules = dict(
        duckdb.connect(str(db), read_only=True).execute("select rule_id, severity from catalogue.rules").fetchall()
    )
    for a in src.alerts:  # severity and clause come from the catalogue the marts were built with
        if a.rule_id in rules:
            assert a.severity == rules[a.rule_id]
        assert a.rule_id in a.description and a.clause in a.description and "What to fix" in a.description


def test_end_to_end_with_alertmanager_webhook_and_mart_alerts(warehouse_copy, alertmanager, receiver):
    wh, am = warehouse_copy, alertmanager
    config = AlertConfig(retry=RetryPolicy(attempts=2, backoff_s=0.05, timeout_s=5))

    def evaluate():
        return evaluate_and_send(
            wh, as_of=AS_OF, alertmanager_url=am.url, webhook_url=receiver.url + "/hook", kafka=False, config=config
        )

    first = evaluate()
    assert first.ok, first.as_dict()
    n = len(first.fired)
    assert n == len(expected_conditions(wh / "junheng.duckdb")) and not first.resolved
    assert first.sources["stream"].ok and first.sources["marts"].ok
    assert {d.channel: d.sent for d in first.deliveries} == {"alertmanager": n, "webhook": n}
    wait_until(lambda: len(am.active(service="junheng")) == n, what=f"{n} alerts in Alertmanager")
    groups = {g["labels"]["district_code"] for g in am.groups() if g["alerts"]}
    assert groups == {a.district_code or "city" for a in first.fired}
    (hook,) = receiver.bodies("/hook")
    assert len(hook["alerts"]) == n and {e["status"] for e in hook["alerts"]} == {"firing"}

    # again: nothing new is emitted (no webhook post, no history file), Alertmanager refreshed
    second = evaluate()
    assert second.ok and not second.fired and not second.resolved and len(second.repeated) == n
    assert len(receiver.bodies("/hook")) == 1 and second.history_file is None
    assert [d.channel for d in second.deliveries] == ["alertmanager"]

    # a district catches up (as a rebuild would show it): its current-year alerts resolve
    victim = next(a for a in first.fired if a.alertname == "DistrictBehind")
    con = duckdb.connect(str(wh / "junheng.duckdb"))
    con.execute(
        "update mart_district_accountability set on_track = true, behind_reasons = []::varchar[] "
        "where district_code = ? and year = ?",
        [victim.district_code, victim.year],
    )
    con.close()
    third = evaluate()
    gone = {
        a.alert_id
        for a in first.fired
        if a.district_code == victim.district_code and a.year == victim.year and a.alertname != "DistrictVetoed"
    }
    assert third.ok and {a.alert_id for a in third.resolved} == gone and not third.fired
    wait_until(
        lambda: not {a["annotations"]["alert_id"] for a in am.active(service="junheng")} & gone,
        what="the resolved alerts to leave Alertmanager",
    )
    events = receiver.bodies("/hook")[-1]["alerts"]
    assert {e["alert_id"] for e in events} == gone and {e["status"] for e in events} == {"resolved"}

    # the history, as landed and as dbt's mart_alerts shows it
    history = read_history(wh / "landing")
    assert len(history) == n + len(gone)
    build = dbt(["build", "--select", "mart_alerts"], wh)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]
    con = duckdb.connect(str(wh / "junheng.duckdb"), read_only=True)
    try:
        cols = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_name = 'mart_alerts' order by ordinal_position"
            ).fetchall()
        ]
        assert cols[: len(CONTRACT)] == CONTRACT
        rows = con.execute(
            "select alert_id, district_code, state, starts_at, ends_at, is_open, severity, rule_id from mart_alerts"
        ).fetchall()
        # every district alert knows when its district fell behind (an event time before it fired)
        unknown = con.execute(
            "select count(*) filter (where fell_behind_at is null), count(*) filter (where fell_behind_at > starts_at) "
            "from mart_alerts where district_code is not null"
        ).fetchone()
        assert unknown == (0, 0)
    finally:
        con.close()
    assert len(rows) == n + len(gone)
    resolved_rows = [r for r in rows if r[2] == "resolved"]
    assert {r[0] for r in resolved_rows} == gone and all(r[4] is not None and r[4] >= r[3] for r in resolved_rows)
    open_ids = {r[0] for r in rows if r[5]}
    assert open_ids == {a["annotations"]["alert_id"] for a in am.active(service="junheng")}
    assert all(r[1] is None for r in rows if r[7] in ("C4", "C10") or (r[7] == "C1" and r[1] is None))
