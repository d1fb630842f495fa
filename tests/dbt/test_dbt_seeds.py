"""The dbt seeds are generated from the catalogue (`python -m rules.seeds dbt_project/seeds`):
the committed files must be what the catalogue renders today, so no threshold is written twice."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rules import load_catalogue
from rules.seeds import main, render, stale

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"


def test_committed_seeds_are_current():
    files = render(load_catalogue("qingdao-2021"))
    assert stale(SEEDS, files) == [], "run: python -m rules.seeds dbt_project/seeds"


def test_check_mode_reports_current_and_stale(tmp_path):
    out: list[str] = []
    assert main([str(SEEDS), "--check", "--catalogue", "qingdao-2021"], write=out.append) == 0
    (tmp_path / "rules.csv").write_text("rule_id\nR1\n", encoding="utf-8")
    assert main([str(tmp_path), "--check", "--catalogue", "qingdao-2021"], write=out.append) == 1
    assert main([str(tmp_path), "--catalogue", "qingdao-2021"], write=out.append) == 0
    assert stale(tmp_path, render(load_catalogue("qingdao-2021"))) == []


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((SEEDS / f"{name}.csv").read_text(encoding="utf-8"))))


def test_thresholds_come_from_the_catalogue():
    cat = load_catalogue("qingdao-2021")
    rows = _rows("section_indicator_thresholds")
    assert len(rows) == 14
    for r in rows:
        rule = cat.rule(r["indicator"])
        assert float(r["threshold"]) == rule.thresholds[r["level"]]  # the very same double
        assert float(r["scale"]) == float(rule.params["scale"])
        assert r["numerator"] == rule.params["numerator"]
    (ras,) = _rows("ras_params")
    assert (int(ras["min_met"]), float(ras["remainder_min_ratio"])) == (6, 0.85)
    cv = {r["level"]: float(r["threshold"]) for r in _rows("ra_cv_thresholds")}
    assert cv == {"primary": 0.5, "junior": 0.45}
    assert [(r["year"], r["target_share"]) for r in _rows("city_milestones")] == [("2023", "0.3"), ("2025", "1.0")]
    assert {r["district_code"] for r in _rows("districts")} >= {"370202", "370212", "370285"}
    assert {r["rule_id"] for r in _rows("rules")} == set(cat.rules)


def test_a_local_override_reaches_the_seeds(tmp_path):
    """A bureau that tightens R1 changes the seed, not the SQL."""
    local = tmp_path / "local.yaml"
    local.write_text(
        "catalogue: local\nversion: '1'\nextends: qingdao-2021\n"
        "overrides:\n  R1: {thresholds: {primary: 4.5, junior: 5.5}}\n  RA-CV: {thresholds: {primary: 0.4, junior: 0.35}}\n"
        "rules: []\n",
        encoding="utf-8",
    )
    files = render(load_catalogue(local))
    assert "R1,1,primary,qualified_teachers,students,100.0,>=,4.5," in files["section_indicator_thresholds.csv"]
    assert "RA-CV,junior,<=,0.35," in files["ra_cv_thresholds.csv"]


def test_the_districts_seed_follows_the_jurisdictions_list(tmp_path, monkeypatch):
    """`junheng build` checks the seeds against JUNHENG_DISTRICTS; regenerating them reads it too."""
    packaged = (SEEDS / "districts.csv").read_text(encoding="utf-8")
    other = tmp_path / "districts.csv"
    other.write_text(
        "district_code,name_zh,name_en,kind,profile\n"
        "370202,市南区,Shinan,district,urban core\n"
        "990001,样例区,Example,district,rural\n",
        encoding="utf-8",
    )
    out: list[str] = []
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(other))
    assert main([str(tmp_path / "seeds"), "--catalogue", "qingdao-2021"], write=out.append) == 0
    written = (tmp_path / "seeds" / "districts.csv").read_text(encoding="utf-8")
    assert "990001" in written and written != packaged
    assert main([str(tmp_path / "seeds"), "--check", "--catalogue", "qingdao-2021"], write=out.append) == 0
    monkeypatch.delenv("JUNHENG_DISTRICTS")
    assert main([str(tmp_path / "seeds"), "--check", "--catalogue", "qingdao-2021"], write=out.append) == 1
    assert (
        main(
            [str(tmp_path / "seeds"), "--check", "--catalogue", "qingdao-2021", "--districts", str(other)],
            write=out.append,
        )
        == 0
    )
