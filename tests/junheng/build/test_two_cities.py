"""Two warehouses, two cities, one package (issue #12, item 5): a second warehouse with its own
district list (JUNHENG_DISTRICTS, four of Qingdao's ten districts) and catalogue
(JUNHENG_CATALOGUE=national-2017) lands and builds beside the first, without touching the package's
dbt project; a later change of its district list is a full rebuild that says why."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[3]
AS_OF = dt.date(2026, 6, 30)
PACKAGED = ROOT / "ingestion" / "reference" / "districts.csv"

pytestmark = [pytest.mark.slow]


def package_digest() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "dbt_project").rglob("*")):
        rel = p.relative_to(ROOT / "dbt_project")
        if p.is_file() and rel.parts[0] not in ("target", "logs", "dbt_packages"):
            h.update(rel.as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def district_list(path: Path, rows: int) -> Path:
    lines = PACKAGED.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:rows + 1]), encoding="utf-8")
    return path


def marts_districts(database: str | Path) -> tuple[set[str], set[str]]:
    with duckdb.connect(str(database), read_only=True) as con:
        codes = {r[0] for r in con.execute("select distinct district_code from main.mart_district_attainment").fetchall()}
        catalogues = {r[0] for r in con.execute("select distinct catalogue from main.mart_district_balance").fetchall()}
    return codes, catalogues


def test_two_warehouses_serve_two_cities_from_one_package(built, tmp_path, monkeypatch):
    from junheng.build import build
    from rules import load_catalogue
    from streams.embedded import EmbeddedRunner

    package = package_digest()
    first = Path(built.warehouse)

    second = tmp_path / "second-city"
    four = district_list(tmp_path / "four.csv", 4)
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(four))
    monkeypatch.setenv("JUNHENG_CATALOGUE", "national-2017")
    events = first / "events.jsonl"   # the same sample city: six of its ten districts are unknown here
    summary = EmbeddedRunner(second, catalogue=load_catalogue("national-2017")).run([events])
    assert summary.counts["applied"] > 0 and summary.counts["dead_lettered"] > 0
    assert set(summary.counts.reasons) == {"unknown_district"}, summary.counts

    result = build(second, as_of=AS_OF, data_docs=False)

    assert package_digest() == package, "the build changed the package's dbt project"
    codes, catalogues = marts_districts(result.database)
    assert codes == {"370202", "370203", "370211", "370212"} and catalogues == {"national-2017"}
    first_codes, first_catalogues = marts_districts(built.database)
    assert len(first_codes) == 10 and first_catalogues == {"qingdao-2021"}
    assert result.plan.full_refresh and result.jurisdiction["district_count"] == 4
    recorded = json.loads((second / "jurisdiction.json").read_text(encoding="utf-8"))
    assert recorded["districts"] == str(four.resolve()) and recorded["catalogue"] == "national-2017"
    assert recorded["catalogue_version"] == load_catalogue("national-2017").version
    assert json.loads((first / "jurisdiction.json").read_text(encoding="utf-8"))["district_count"] == 10
    manifest = json.loads((Path(result.database).parent / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["jurisdiction"]["districts_digest"] == recorded["districts_digest"]

    # the second city's list grows by two districts: the seeds change, so everything is rebuilt
    six = district_list(tmp_path / "six.csv", 6)
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(six))
    again = build(second, as_of=AS_OF, data_docs=False, report=False)
    assert again.plan.full_refresh and "the district list changed (seed districts.csv)" in again.plan.reason, \
        again.plan.reason
    assert any("the warehouse's jurisdiction changed" in n and "six.csv" in n for n in again.notes), again.notes
    assert "jurisdiction changed" in again.summary()
    assert package_digest() == package
