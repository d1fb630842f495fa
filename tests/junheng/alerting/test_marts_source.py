"""The marts source on hand-made marts: which rows raise which alerts, for which years, and what
happens when the marts cannot be read."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
from alerting_helpers import AS_OF, fake_marts

from junheng.alerting import AlertConfig, evaluate_and_send
from junheng.alerting.model import FIRING
from junheng.alerting.sources import read_marts

NO_STREAM = AlertConfig(stream=False)


def keys(alerts):
    return {(a.alertname, a.district_code, a.rule_id, a.year) for a in alerts}


def test_behind_reasons_deadlines_vetoes_and_the_city(tmp_path):
    db = fake_marts(
        tmp_path / "junheng.duckdb",
        accountability=[
            # 370203: behind in its current year (2025) on two rules, C7 twice → one alert; 2024 history ignored
            ("370203", 2024, 2023, False, False, ["DCY: not attained by its declared creation year 2023", "C9: pay"]),
            (
                "370203",
                2025,
                2023,
                False,
                False,
                ["DCY: not attained by its declared creation year 2023", "C7: rotated 8%", "C7: backbone 12%"],
            ),
            # 370211: deadlines missed for the current year and the year before (D3 of 2024 falls due in 2025)
            ("370211", 2023, 2023, True, False, ["D3: no recognition_application by the deadline 2024-05-31"]),
            ("370211", 2024, 2023, True, False, ["D3: no recognition_application by the deadline 2025-05-31"]),
            ("370211", 2025, 2023, True, False, ["D1: self_assessment on 2026-01-14, after the deadline 2025-12-31"]),
            # 370212 on track; 370213 undecided: no alert
            ("370212", 2025, 2022, True, True, []),
            ("370213", 2025, 2025, None, None, []),
            # a year after as_of's calendar year is not judged yet
            ("370214", 2027, 2027, False, False, ["DCY: not attained by its declared creation year 2027"]),
        ],
        attainment=[
            ("370203", 2025, False, False, ["G5", "RA-S"]),
            ("370215", 2025, True, False, ["V1", "V3", "SR"]),
            ("370215", 2024, True, False, ["V2"]),  # an earlier year's veto: history
        ],
        city=[
            (2024, 10, 4, 0.3, True, False, None),
            (2025, 10, 5, 1.0, False, False, True),
        ],
    )
    src = read_marts(db, as_of=AS_OF)
    assert src.ok and not src.warnings, src.detail
    assert keys(src.alerts) == {
        ("DistrictBehind", "370203", "DCY", 2025),
        ("DistrictBehind", "370203", "C7", 2025),
        ("DistrictDeadlineMissed", "370211", "D3", 2024),
        ("DistrictDeadlineMissed", "370211", "D1", 2025),
        ("DistrictVetoed", "370215", "V1", 2025),
        ("DistrictVetoed", "370215", "V3", 2025),
        ("CityOffTrack", None, "C1", 2025),
        ("CityTargetMissed", None, "C4", 2025),
    }
    by = {(a.district_code, a.rule_id): a for a in src.alerts}
    dcy, c7 = by[("370203", "DCY")], by[("370203", "C7")]
    assert dcy.severity == "critical" and c7.severity == "major" and by[("370215", "V1")].severity == "critical"
    assert "rotated 8%; backbone 12%" in c7.reason
    assert "G5, RA-S" in dcy.description and "370203" in dcy.description and "What to fix" in dcy.description
    city = by[(None, "C1")]
    assert city.labels["district_code"] == "city" and "5 of 10" in city.summary and "370203" in city.fix
    for a in src.alerts:  # every alert names its rule, district, clause and what to fix
        assert a.rule_id in a.description and a.clause and a.clause in a.description and a.fix
        assert set(a.labels) >= {"alertname", "district_code", "rule_id", "severity", "year"}
        assert set(a.annotations) >= {"summary", "description", "clause", "fix", "rule_id"}

    # an explicit list of years replaces the window
    assert keys(read_marts(db, as_of=AS_OF, years=[2024]).alerts) == {
        ("DistrictBehind", "370203", "DCY", 2024),
        ("DistrictBehind", "370203", "C9", 2024),
        ("DistrictDeadlineMissed", "370211", "D3", 2024),
        ("DistrictVetoed", "370215", "V2", 2024),
        ("CityTargetMissed", None, "C4", 2024),
    }


def test_a_different_as_of_is_flagged(tmp_path):
    db = fake_marts(
        tmp_path / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x"])], as_of=dt.date(2026, 1, 1)
    )
    src = read_marts(db, as_of=AS_OF)
    assert src.ok and "2026-01-01" in src.warnings[0] and "--vars" in src.warnings[0]


def test_unreadable_marts_resolve_nothing(tmp_path):
    wh = tmp_path
    db = fake_marts(wh / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x", "C5: y"])])
    first = evaluate_and_send(wh, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False, config=NO_STREAM)
    assert len(first.fired) == 2 and first.ok

    writer = duckdb.connect(str(db))  # dbt building: the file is locked by a writer
    try:
        run = evaluate_and_send(
            wh,
            as_of=AS_OF,
            alertmanager_url=None,
            webhook_url=None,
            kafka=False,
            config=AlertConfig(stream=False, marts_attempts=2, marts_wait_s=0.05),
        )
    finally:
        writer.close()
    assert not run.ok and not run.sources["marts"].ok and "unavailable" in run.errors[0]
    assert not run.resolved and len(run.firing) == 2

    db.unlink()  # the file is gone
    run = evaluate_and_send(wh, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False, config=NO_STREAM)
    assert not run.ok and "dbt build" in run.sources["marts"].detail and not run.resolved
    assert {a.state for a in run.firing} == {FIRING} and len(run.firing) == 2

    fake_marts(db, [("370203", 2025, 2025, True, True, [])])  # rebuilt: caught up
    run = evaluate_and_send(wh, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False, config=NO_STREAM)
    assert run.ok and len(run.resolved) == 2 and not run.firing


def test_command_line(tmp_path, capsys, monkeypatch):
    from junheng.alerting.cli import main

    for name in ("JUNHENG_ALERTMANAGER_URL", "JUNHENG_ALERT_WEBHOOK_URL", "JUNHENG_ALERT_RETRIES"):
        monkeypatch.delenv(name, raising=False)

    fake_marts(tmp_path / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x"])])
    assert main(["--warehouse", str(tmp_path), "--as-of", AS_OF.isoformat(), "--no-stream", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["fired"] == 1 and out["ok"] and out["fired"][0]["rule_id"] == "DCY"
    # a webhook nobody listens to: reported, queued, exit code 2
    from alerting_helpers import free_port

    fake_marts(tmp_path / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x", "C5: y"])])
    code = main(
        [
            "--warehouse",
            str(tmp_path),
            "--as-of",
            AS_OF.isoformat(),
            "--no-stream",
            "--webhook-url",
            f"http://127.0.0.1:{free_port()}/hook",
        ]
    )
    text = capsys.readouterr().out
    assert code == 2 and "FAILED after" in text and "queued for the next run" in text and "FIRING" in text
