"""Publishing the changed district-years only (junheng/build/publish_delta.py): after an
incremental build the next version is the current one's file plus the build's changes, and it
holds exactly the working database's marts; whenever the current version cannot be the base,
every mart is copied, and the manifest says which and why."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from junheng.build import build
from junheng.build.publish import HEADER_VERSION, database_storage_number
from publish_helpers import (
    compare_marts,
    duckdb_reader,
    land_enrolment_correction,
    marts_of,
    published_value,
    read_with_old_duckdb,
    students_sql,
)

AS_OF = dt.date(2026, 6, 30)  # the `built` fixture's


def _manifest(result) -> dict:
    return json.loads(Path(result.published.manifest).read_text(encoding="utf-8"))


def _same_marts(wh: Path, published: Path) -> None:
    """The published file holds the working database's marts, row for row (as a whole copy would)."""
    assert compare_marts().compare(wh / "work" / "junheng.duckdb", published) == []


def test_corrections_publish_the_changed_district_years_and_equal_the_working_marts(built, built_copy):
    assert _manifest(built)["publish"]["mode"] == "whole"  # the first build: a full rebuild
    wh = built_copy()
    for skip in (0, 1, 2):
        school, year, section, after = land_enrolment_correction(wh, skip)
        result = build(wh, as_of=AS_OF)
        doc = _manifest(result)
        assert doc["publish"]["mode"] == "delta" and doc["publish"]["base_version"] == 1 + skip, doc["publish"]
        assert result.published.publishing == doc["publish"]
        assert published_value(wh, students_sql(school, year, section)) == after
        _same_marts(wh, Path(result.published.database))
        # the manifest's row counts are the file's, and the file holds the marts only
        assert {f"main.{m}": n["rows"] for m, n in doc["marts"].items()} == marts_of(Path(result.published.database))
    # the file a BI driver opens: DuckDB 1.x storage, only the marts, readable by DuckDB 1.0
    database = Path(result.published.database)
    assert database_storage_number(database) == HEADER_VERSION
    old = read_with_old_duckdb(duckdb_reader("1.0.0"), database)
    assert old["version"] == "1.0.0" and old["tables"] == marts_of(database), old


@pytest.mark.parametrize(
    "how, why",
    [
        ("as_of", "another as_of"),
        ("growth", "grew past"),
        ("mismatch", "did not fit as the base (planted"),
    ],
)
def test_whenever_the_current_version_cannot_be_the_base_every_mart_is_copied(built_copy, monkeypatch, how, why):
    import junheng.build.publish as publish
    import junheng.build.publish_delta as delta

    wh = built_copy()
    as_of = AS_OF
    if how == "as_of":
        as_of = AS_OF + dt.timedelta(days=1)  # rows the whole marts judge on the date may all change
    elif how == "growth":
        monkeypatch.setattr(delta, "GROWTH_LIMIT", 0.5)
    else:

        def planted(path):
            raise delta.DeltaMismatch("planted: a mart incremental by another strategy")

        monkeypatch.setattr(publish, "incremental_marts", planted)
    school, year, section, after = land_enrolment_correction(wh, 0)
    result = build(wh, as_of=as_of)
    doc = _manifest(result)
    assert doc["publish"]["mode"] == "whole" and why in doc["publish"]["why"], doc["publish"]
    assert doc["publish"]["full_bytes"] == Path(result.published.database).stat().st_size
    assert published_value(wh, students_sql(school, year, section)) == after
    _same_marts(wh, Path(result.published.database))
    assert not list(Path(result.published.folder).glob("*.wal"))


def test_a_working_database_written_by_hand_is_rebuilt_and_copied_whole(built_copy):
    """docs/marts.md runs dbt by hand into the working database: what it adds is then in neither
    the ledger's new files nor the current version, so the next build must not trust it."""
    import duckdb

    wh = built_copy()
    con = duckdb.connect(str(wh / "work" / "junheng.duckdb"))
    try:
        con.execute("create table main.scratch_by_hand as select 1 as x")
    finally:
        con.close()
    school, year, section, after = land_enrolment_correction(wh, 0)
    result = build(wh, as_of=AS_OF)
    assert result.plan.full_refresh and any("written after version 1" in n for n in result.notes), result.notes
    assert _manifest(result)["publish"]["mode"] == "whole"
    assert published_value(wh, students_sql(school, year, section)) == after
    _same_marts(wh, Path(result.published.database))
