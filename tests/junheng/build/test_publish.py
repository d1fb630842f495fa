"""Publish, never block (issue #11, part 3): junheng.build.publish on a real working database.

The working database is a copy of the one the `built` fixture's dbt build wrote; `publish()` runs
on it directly (no dbt: seconds per test). What is checked: the switch is one rename (readers
opening the stable path all the while always get a whole version), versions are immutable and
read-only, keep-N and leftovers of an interrupted publish, an open reader keeps its snapshot even
once its version is removed, a publish that fails publishes nothing, only the marts are published,
DuckDB 1.x opens the file, and SQLAlchemy (duckdb-engine, as Superset) reflects exactly the marts
with their types.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import threading
from pathlib import Path

import duckdb
import pytest

from junheng.build.publish import (HEADER_VERSION, PublishError, current_version, database_storage_number,
                                   publish)
from junheng.layout import WarehouseLayout
from publish_helpers import duckdb_reader, marts_of, read_with_old_duckdb

MARTS = ["mart_alerts", "mart_city_progress", "mart_district_accountability", "mart_district_attainment",
         "mart_district_balance", "mart_district_gap_to_pass", "mart_district_outlook", "mart_school_gap_to_pass",
         "mart_school_section_indicators", "mart_school_section_status"]
INFO = {"as_of": "2026-06-30", "catalogue": "qingdao-2021", "checkpoint_run_id": "test"}


@pytest.fixture
def layout(built, tmp_path) -> WarehouseLayout:
    """A warehouse with a copy of the built working database and nothing published yet."""
    wh = WarehouseLayout(tmp_path / "wh")
    wh.work.mkdir(parents=True)
    wh.landing.mkdir()
    shutil.copyfile(Path(built.warehouse) / "work" / "junheng.duckdb", wh.working_database)
    return wh


def _change(layout: WarehouseLayout, total: int) -> None:
    """The next build's marts: mart_city_progress.districts_total = `total` everywhere."""
    con = duckdb.connect(str(layout.working_database))
    try:
        con.execute("update main.mart_city_progress set districts_total = ?", [total])
    finally:
        con.close()


def _total(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select max(districts_total) from mart_city_progress").fetchone()[0])


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_versions_are_immutable_and_the_stable_paths_follow_the_current_one(layout):
    _change(layout, 101)
    first = publish(layout, layout.working_database, INFO, keep=5)
    v1 = _digest(first.folder)
    _change(layout, 102)
    second = publish(layout, layout.working_database, INFO, keep=5)

    assert (first.version, second.version) == (1, 2) and current_version(layout) == 2
    assert _digest(first.folder) == v1, "a published version never changes"
    for path in list(first.folder.rglob("*")) + list(second.folder.rglob("*")):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, f"{path} is writable"
    assert layout.database.resolve() == second.database.resolve()
    assert (layout.export / "mart_city_progress.parquet").resolve() == \
        (second.folder / "export" / "mart_city_progress.parquet").resolve()
    assert os.readlink(layout.database) == "published/current/junheng.duckdb"    # relative: the folder may move
    for database, total in ((first.database, 101), (second.database, 102), (layout.database, 102)):
        con = duckdb.connect(str(database), read_only=True)
        try:
            assert _total(con) == total
            assert con.execute("select current_database()").fetchone()[0] == "junheng"   # the catalogue BI tools see
        finally:
            con.close()
    con = duckdb.connect()
    try:
        assert con.execute("select max(districts_total) from read_parquet(?)",
                           [str(layout.export / "mart_city_progress.parquet")]).fetchone()[0] == 102
    finally:
        con.close()
    manifest = json.loads((layout.current / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 2 and manifest["storage_version"] == "v1.0.0"
    assert manifest["marts"] == {m: {"rows": second.marts[m]} for m in MARTS}
    assert json.loads((layout.export_manifest).read_text(encoding="utf-8"))["version"] == 2


def test_readers_opening_the_stable_path_meanwhile_always_get_a_whole_version(layout):
    """The switch is one rename: readers that connect again and again while versions are published
    never fail to open the file and always see one published version's marts, in order."""
    _change(layout, 200)
    publish(layout, layout.working_database, INFO, keep=2)
    seen: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set() or len(seen) < 5:
            try:
                con = duckdb.connect(str(layout.database), read_only=True)
                try:
                    seen.append(_total(con))
                finally:
                    con.close()
            except Exception as exc:   # noqa: BLE001 -- any failure is the finding
                errors.append(f"{type(exc).__name__}: {exc}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for total in range(201, 206):
            _change(layout, total)
            publish(layout, layout.working_database, INFO, keep=2)
    finally:
        done.set()
        reader.join(60)
    assert not errors, errors[:3]
    assert set(seen) <= set(range(200, 206)) and seen == sorted(seen), seen[:50]
    assert len(set(seen)) >= 3, f"the reader saw too few versions to show anything: {sorted(set(seen))}"
    con = duckdb.connect(str(layout.database), read_only=True)
    try:
        assert _total(con) == 205
    finally:
        con.close()


def test_keep_n_and_what_an_interrupted_publish_left(layout):
    for total in range(1, 5):
        _change(layout, total)
        publish(layout, layout.working_database, INFO, keep=2)
    versions = sorted(p.name for p in layout.published.iterdir() if p.name.startswith("v"))
    assert versions == ["v000003", "v000004"] and current_version(layout) == 4
    # what a publish killed part-way leaves: a half-written folder, a complete version never made
    # current (killed between its rename and the switch), a link being made
    (layout.published / ".v000005.tmp").mkdir()
    (layout.published / ".v000005.tmp" / "junheng.duckdb").write_bytes(b"half")
    shutil.copytree(layout.published_version(4), layout.published_version(5))
    os.symlink("v000005", layout.published / ".current.tmp")
    assert current_version(layout) == 4
    _change(layout, 6)
    published = publish(layout, layout.working_database, INFO, keep=2)
    assert published.version == 5 and current_version(layout) == 5
    con = duckdb.connect(str(layout.database), read_only=True)
    try:
        assert _total(con) == 6          # the new build, not the leftover copy of version 4
    finally:
        con.close()
    assert sorted(p.name for p in layout.published.iterdir()) == ["current", "v000004", "v000005"]


def test_an_open_reader_keeps_its_snapshot_even_once_its_version_is_removed(layout):
    _change(layout, 300)
    publish(layout, layout.working_database, INFO, keep=1)
    reader = duckdb.connect(str(layout.database), read_only=True)
    try:
        assert _total(reader) == 300
        for total in (301, 302):
            _change(layout, total)
            publish(layout, layout.working_database, INFO, keep=1)
        assert not layout.published_version(1).exists()
        assert _total(reader) == 300 and reader.execute("select count(*) from mart_school_section_status").fetchone()[0] > 0
        fresh = duckdb.connect(str(layout.database), read_only=True)
        try:
            assert _total(fresh) == 302
        finally:
            fresh.close()
    finally:
        reader.close()


def test_only_the_marts_are_published(layout):
    """Seeds, staging, intermediate and snapshot tables stay in the working database; a `main.mart_*`
    view (a documented BI view) is published as a table; nothing else of `main` is."""
    con = duckdb.connect(str(layout.working_database))
    try:
        con.execute("create view main.mart_zz_view as select district_code, year from main.mart_district_attainment")
        con.execute("create table main.helper as select 1 as x")
        con.execute("create schema if not exists staging")
        con.execute("create table staging.mart_lookalike as select 1 as x")
        working = {f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() union all "
            "select schema_name, view_name from duckdb_views() where not internal").fetchall()}
    finally:
        con.close()
    assert len(working) > 30 and {"main.helper", "staging.mart_lookalike"} <= working
    published = publish(layout, layout.working_database, INFO, keep=3)
    relations = marts_of(published.database)
    assert sorted(relations) == [f"main.{m}" for m in MARTS + ["mart_zz_view"]]
    assert relations["main.mart_zz_view"] == relations["main.mart_district_attainment"]
    con = duckdb.connect(str(published.database), read_only=True)
    try:
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
    finally:
        con.close()


def test_comments_and_not_null_columns_are_published(layout):
    con = duckdb.connect(str(layout.working_database))
    try:
        con.execute("comment on table main.mart_city_progress is 'C1: the city against its plan'")
        con.execute("comment on column main.mart_city_progress.year is 'the statistical year'")
        con.execute("alter table main.mart_city_progress alter column year set not null")
    finally:
        con.close()
    published = publish(layout, layout.working_database, INFO, keep=3)
    con = duckdb.connect(str(published.database), read_only=True)
    try:
        assert con.execute("select comment from duckdb_tables() where table_name = 'mart_city_progress'"
                           ).fetchone()[0] == "C1: the city against its plan"
        assert con.execute("select comment, is_nullable from duckdb_columns() where table_name = 'mart_city_progress' "
                           "and column_name = 'year'").fetchone() == ("the statistical year", False)
    finally:
        con.close()


def _drop_every_mart(con: duckdb.DuckDBPyConnection) -> None:
    marts = con.execute("select table_name, table_type from information_schema.tables "
                        "where table_schema = 'main' and table_name like 'mart\\_%' escape '\\'").fetchall()
    assert marts, "the working database holds marts before the plant"
    for name, kind in marts:   # tables, and mart_alerts' view
        con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} main.{name}")


@pytest.mark.parametrize("plant, reason", [
    (lambda con: con.execute("create table main.mart_zz_variant as select 1::variant as v"),
     "VARIANT columns are not supported"),
    (_drop_every_mart, "holds no main.mart_* table"),
], ids=["a type DuckDB 1.x cannot store", "no marts"])
def test_a_publish_that_fails_publishes_nothing_and_says_why(layout, plant, reason):
    _change(layout, 400)
    publish(layout, layout.working_database, INFO, keep=3)
    before = _digest(layout.published)
    con = duckdb.connect(str(layout.working_database))
    try:
        plant(con)
    finally:
        con.close()
    with pytest.raises(PublishError, match=re.escape(reason)) as caught:
        publish(layout, layout.working_database, INFO, keep=3)
    assert caught.value.stage == "publish"
    assert "\n" not in str(caught.value) and "readers keep the previous marts" in str(caught.value)
    assert current_version(layout) == 1 and _digest(layout.published) == before
    assert [p.name for p in layout.published.iterdir() if p.name.startswith(".")] == []


def test_the_published_file_has_the_storage_of_duckdb_1(built):
    assert database_storage_number(Path(built.database)) == HEADER_VERSION == 64
    assert database_storage_number(Path(built.warehouse) / "work" / "junheng.duckdb") != 64   # DuckDB 2's own


@pytest.mark.parametrize("version", ["1.0.0", "1.1.3"])
def test_duckdb_1x_reads_the_published_file(built, version):
    """A BI driver's bundled DuckDB 1.x opens the file readers open and reads every mart. (It refuses
    the working database DuckDB 2 writes: "database file with version number 999".)"""
    python = duckdb_reader(version)
    wh = Path(built.warehouse)
    got = read_with_old_duckdb(python, wh / "junheng.duckdb")
    assert got["version"] == version
    assert got["tables"] == marts_of(Path(built.database)) and len(got["tables"]) == len(MARTS)


def test_sqlalchemy_reflection_lists_exactly_the_marts_with_their_types(built):
    """Superset's path: SQLAlchemy with duckdb-engine on <warehouse>/junheng.duckdb, read-only.
    Before: reflection of junheng.duckdb listed 33 tables (seeds, staging, intermediate, snapshot)."""
    import warnings

    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy import types as sa

    expected = {"VARCHAR": sa.String, "JSON": sa.String, "INTEGER": sa.Integer, "BIGINT": sa.BigInteger,
                "DOUBLE": sa.Float, "BOOLEAN": sa.Boolean, "DATE": sa.Date, "TIMESTAMP": sa.DateTime}
    wh = Path(built.warehouse)
    con = duckdb.connect(str(wh / "junheng.duckdb"), read_only=True)
    try:
        columns = {}
        for table, column, data_type in con.execute(
                "select table_name, column_name, data_type from duckdb_columns() where database_name = "
                "current_database() order by table_name, column_index").fetchall():
            columns.setdefault(table, []).append((column, data_type))
    finally:
        con.close()
    engine = create_engine(f"duckdb:///{wh / 'junheng.duckdb'}", connect_args={"read_only": True})
    try:
        inspector = inspect(engine)
        assert inspector.get_table_names() == MARTS and inspector.get_view_names() == []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # duckdb-engine: "Did not recognize type 'list'" (documented)
            for mart in MARTS:
                reflected = inspector.get_columns(mart)
                assert [c["name"] for c in reflected] == [c for c, _ in columns[mart]], mart
                for col, (name, data_type) in zip(reflected, columns[mart]):
                    if data_type.endswith("[]"):
                        assert isinstance(col["type"], sa.NullType), (mart, name, col["type"])
                        continue
                    assert data_type in expected, f"{mart}.{name}: {data_type} -- add it to docs/marts.md's BI types"
                    assert isinstance(col["type"], expected[data_type]), (mart, name, data_type, col["type"])
                    assert not (data_type == "INTEGER" and isinstance(col["type"], sa.BigInteger))
        with engine.connect() as bi:
            assert bi.execute(text("select count(*) from mart_school_section_status")).scalar() == \
                built.exports["mart_school_section_status"].rows
    finally:
        engine.dispose()


def test_a_warehouse_of_the_earlier_layout_is_switched_over_under_its_reader(built, layout):
    """Before publishing existed, dbt wrote <warehouse>/junheng.duckdb itself and the export was a
    folder: the first publish replaces both with links, and a reader of the old file keeps it."""
    shutil.copyfile(built.database, layout.database)                  # the earlier file, writable
    layout.export.mkdir()
    (layout.export / "mart_city_progress.parquet").write_bytes(b"earlier")
    Path(f"{layout.database}.wal").write_bytes(b"")                  # what a killed writer may leave
    reader = duckdb.connect(str(layout.database), read_only=True)
    try:
        before = _total(reader)
        _change(layout, before + 1000)
        published = publish(layout, layout.working_database, INFO, keep=3)
        assert layout.database.is_symlink() and layout.export.is_symlink()
        assert layout.database.resolve() == published.database.resolve()
        assert not Path(f"{layout.database}.wal").exists()
        assert _total(reader) == before                               # the old file, still open
    finally:
        reader.close()
    con = duckdb.connect(str(layout.database), read_only=True)
    try:
        assert _total(con) == before + 1000
    finally:
        con.close()
    assert sorted(p.name for p in layout.published.iterdir()) == ["current", "v000001"]
