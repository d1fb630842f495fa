"""DistrictAtRisk (issue #13, item 3): a district whose projected year of attainment is after its
declared creation year (or the plan's deadline) is flagged while that year is still to come, the
alert naming the items that drive the risk; on hand-made marts (exact cases) and on marts built the
real way from a district improving too slowly."""

from __future__ import annotations

import datetime as dt
import json

import factories as f
import pytest
from alerting_helpers import AS_OF, dbt, fake_marts

from junheng.alerting.sources import read_marts

EARLY = dt.date(2024, 3, 1)  # before the declared years of the hand-made districts


def _at_risk(alerts):
    return {a.district_code: a for a in alerts if a.alertname == "DistrictAtRisk"}


def test_at_risk_districts_fire_naming_their_items(tmp_path):
    db = fake_marts(
        tmp_path / "junheng.duckdb",
        accountability=[],
        outlook=[
            # too slow on SR (passes 2031) for its declared 2025; G8 passes in time and is not named as a driver
            ("370203", 2023, 2025, 2025, 2031, True, ["SR"], [("SR", 2031), ("G8", 2024)]),
            # an item that never passes at its rate, and one that passes too late
            ("370211", 2023, 2024, 2025, None, True, ["Q9", "G9"], [("Q9", None), ("G9", 2027)]),
            # fast enough: no alert
            ("370212", 2023, 2025, 2025, 2024, False, [], [("SR", 2024)]),
        ],
    )
    src = read_marts(db, as_of=EARLY)
    assert src.ok and not src.warnings, src.as_dict()
    risk = _at_risk(src.alerts)
    assert set(risk) == {"370203", "370211"}
    slow, never = risk["370203"], risk["370211"]
    assert (slow.rule_id, slow.year, slow.severity) == ("OUTLOOK", 2023, "major")
    assert "at risk of missing its declared creation year 2025" in slow.summary and "attains 2031" in slow.summary
    assert "SR (passes in 2031)" in slow.summary and "G8" not in slow.summary
    assert slow.annotations["risk_items"] == "SR" and slow.annotations["target_year"] == "2025"
    assert "SR" in slow.fix and slow.clause and slow.clause in slow.description
    assert "declared creation year 2024" in never.summary and "attains not at all" in never.summary
    assert "Q9 (not at this rate), G9 (passes in 2027)" in never.summary
    assert never.annotations["projected_year"] == "not at this rate"
    assert set(slow.labels) >= {"alertname", "district_code", "rule_id", "severity", "year"}

    # once the target year has passed, DistrictBehind speaks for the district, not DistrictAtRisk
    assert set(_at_risk(read_marts(db, as_of=dt.date(2025, 3, 1)).alerts)) == {"370203"}
    assert _at_risk(read_marts(db, as_of=AS_OF).alerts) == {}
    # an explicit list of years: only outlooks projected from those years
    assert _at_risk(read_marts(db, as_of=EARLY, years=[2022]).alerts) == {}


def test_marts_without_the_outlook_warn_and_raise_nothing(tmp_path):
    import duckdb

    db = fake_marts(tmp_path / "junheng.duckdb", accountability=[])
    with duckdb.connect(str(db)) as con:
        con.execute("drop table mart_district_outlook")
    src = read_marts(db, as_of=EARLY)
    assert src.ok and _at_risk(src.alerts) == {} and "mart_district_outlook" in src.warnings[0]


@pytest.mark.slow
def test_a_district_improving_too_slowly_fires_from_marts_built_the_real_way(tmp_path):
    """Three years of a district whose satisfaction (SR) rises half a point a year from 80 (85 needed),
    declared for 2025: run embedded, built by dbt; the outlook mart projects 2031 and the alert fires,
    naming SR."""
    from streams.embedded import EmbeddedRunner

    events = []
    for year, pct, institutions in ((2021, 80.0, 40), (2022, 80.5, 38), (2023, 81.0, 36)):
        for e in f.good_district(year):
            if e["event_type"] == "district.registered":
                e["payload"]["declared_creation_year"] = 2025
            if e["event_type"] == "district.statistics":
                e["payload"].update(satisfaction_pct=pct, training_institutions=institutions)
            events.append(e)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    wh = tmp_path / "wh"
    assert EmbeddedRunner(wh, gx=False).run([path]).counts["dead_lettered"] == 0
    build = dbt(
        ["build", "--exclude", "resource_type:unit_test", "--vars", json.dumps({"as_of": EARLY.isoformat()})], wh
    )
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-2000:]
    src = read_marts(wh / "junheng.duckdb", as_of=EARLY)
    assert src.ok, src.as_dict()
    [alert] = _at_risk(src.alerts).values()
    assert (alert.district_code, alert.year) == (f.DISTRICT, 2023)
    assert "attains 2031" in alert.summary and "SR (passes in 2031)" in alert.summary
