"""`junheng.build.build`: dbt build into the working database, checkpoint, publish and export end to
end on a small warehouse, the seeds rendered into the warehouse (the package's left alone), and the
clear failures -- no landing, another process holding
the working database, a failed checkpoint (which publishes nothing)."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import junheng.build.pipeline as pipeline
from junheng.build import BuildError, DatabaseBusy, build
from publish_helpers import ReaderProcess, current_version, enrolment_correction, marts_of, students_sql

ROOT = Path(__file__).resolve().parents[3]
AS_OF = "2026-06-30"   # the `built` fixture's
MARTS = ["mart_alerts", "mart_city_progress", "mart_district_accountability", "mart_district_attainment",
         "mart_district_balance", "mart_district_gap_to_pass", "mart_district_outlook", "mart_school_gap_to_pass",
         "mart_school_section_indicators", "mart_school_section_status"]

pytestmark = [pytest.mark.slow]


def test_build_publishes_the_marts_and_their_export(built):
    from junheng.build.landing import watermark
    from junheng.layout import WarehouseLayout

    wh = Path(built.warehouse)
    published = Path(built.database)
    assert published == wh / "published" / "v000001" / "junheng.duckdb" and current_version(wh) == 1
    assert (wh / "junheng.duckdb").resolve() == published.resolve()        # the path readers open
    assert (wh / "export").resolve() == (published.parent / "export").resolve()
    assert stat.S_IMODE(published.stat().st_mode) & 0o222 == 0, "a published file is read-only"

    # the published file holds the marts and nothing else; the working database much more
    assert sorted(marts_of(published)) == [f"main.{m}" for m in MARTS] == [f"main.{m}" for m in sorted(built.exports)]
    working = marts_of(wh / "work" / "junheng.duckdb")
    assert len(working) > 25 and {k: v for k, v in working.items() if k.startswith("main.mart_")} == marts_of(published)

    con = duckdb.connect(str(wh / "junheng.duckdb"), read_only=True)
    try:
        for mart in MARTS:
            path = published.parent / "export" / f"{mart}.parquet"
            assert built.exports[mart].path == str(path)
            rows = con.execute(f"select count(*) from main.{mart}").fetchone()[0]
            assert built.exports[mart].rows == rows
            stable = wh / "export" / f"{mart}.parquet"
            assert con.execute("select count(*) from read_parquet(?)", [str(stable)]).fetchone()[0] == rows
            table_cols = [r[0] for r in con.execute(f"describe main.{mart}").fetchall()]
            file_cols = [r[0] for r in con.execute("describe select * from read_parquet(?)", [str(stable)]).fetchall()]
            assert file_cols == table_cols, mart
    finally:
        con.close()
    export_manifest = json.loads((wh / "export" / "_manifest.json").read_text(encoding="utf-8"))
    assert export_manifest["checkpoint_run_id"] == built.checkpoint.run_id and export_manifest["as_of"] == AS_OF
    assert export_manifest["version"] == 1
    assert {k: v["rows"] for k, v in export_manifest["marts"].items()} == {k: v.rows for k, v in built.exports.items()}
    manifest = json.loads((published.parent / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 1 and manifest["storage_version"] == "v1.0.0" and manifest["as_of"] == AS_OF
    assert manifest["landing"] == watermark(WarehouseLayout(wh)) and manifest["landing"]["events"]
    assert manifest["plan"]["full_refresh"] is True
    assert {k: v["rows"] for k, v in manifest["marts"].items()} == {k: v.rows for k, v in built.exports.items()}
    assert not [p for p in (wh / "published").rglob(".*")], "temporary files left behind"
    state = json.loads((wh / "work" / "state.json").read_text(encoding="utf-8"))
    assert state["version"] == 1   # the working database is what version 1 was built from


def test_build_result_reports_stages_and_timings(built):
    assert set(built.timings) == {"seeds", "dbt", "alerts", "dbt_alerts", "checkpoint", "publish", "export",
                                  "report", "report_wait", "total"}
    assert built.timings["total"] >= built.timings["dbt"] > 0
    assert not {"error", "fail", "warn", "skipped"} & set(built.dbt) and built.dbt.get("pass", 0) > 50
    text = built.summary()
    n = built.checkpoint.statistics["evaluated"]
    assert built.checkpoint.run_id in text and f"{n} of {n} expectations met" in text
    assert len(built.exports) >= 10 and f"published version 1: {len(built.exports)} marts" in text
    document = json.loads(json.dumps(built.to_dict()))
    assert document["checkpoint"]["success"] is True and document["published"]["version"] == 1


def test_a_reader_holding_the_marts_never_fails_a_build_and_keeps_its_snapshot(built_copy):
    """The issue's dashboard: a read-only DuckDB connection and a SQLAlchemy (duckdb-engine) one, each
    in its own process, open on <warehouse>/junheng.duckdb while the next build runs. Before: dbt
    failed with "Could not set lock on file … Conflicting lock is held" (it wrote that very file).
    Now the build writes its working database and publishes a new version beside the readers' file."""
    from streams.embedded import EmbeddedRunner

    wh = built_copy("readers")
    line, (school, year, section, after) = enrolment_correction((wh / "events.jsonl").read_bytes().splitlines())
    (wh / "correction.jsonl").write_bytes(line + b"\n")
    assert EmbeddedRunner(wh).run([wh / "correction.jsonl"]).counts["applied"] == 1
    query = students_sql(school, year, section)

    with ReaderProcess("duckdb", wh / "junheng.duckdb") as reader, \
            ReaderProcess("sqlalchemy", wh / "junheng.duckdb") as bi:
        before = reader.scalar(query)
        assert before == after - 40 and bi.scalar(query) == before

        result = build(wh, as_of=dt.date.fromisoformat(AS_OF), data_docs=False)

        assert result.version == 2 and current_version(wh) == 2
        assert reader.scalar(query) == before and bi.scalar(query) == before   # their snapshot ...
        reader.reconnect()
        bi.reconnect()
        assert reader.scalar(query) == after and bi.scalar(query) == after     # ... until they reconnect


def test_the_packages_seeds_are_never_used_nor_edited(built_copy, tmp_path):
    """The build renders the seeds for the warehouse's catalogue and district list into the
    warehouse's own project and runs dbt there: a package whose committed seeds are stale (another
    jurisdiction's) builds all the same, and is left as it was."""
    wh = built_copy("stale-package")
    project = tmp_path / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    seed = project / "seeds" / "ra_cv_thresholds.csv"
    seed.write_text(seed.read_text(encoding="utf-8").replace("0.45", "0.5"), encoding="utf-8")
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}

    result = build(wh, project_dir=project, catalogue="qingdao-2021", as_of=dt.date.fromisoformat(AS_OF),
                   data_docs=False, report=False)

    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
    assert result.project == str(wh / "work" / "dbt_project")
    rendered = wh / "work" / "dbt_project" / "seeds" / "ra_cv_thresholds.csv"
    assert rendered.read_text(encoding="utf-8") == (ROOT / "dbt_project" / "seeds" / "ra_cv_thresholds.csv").read_text(
        encoding="utf-8")
    # the same models and the same rendered seeds as the version before: nothing to rebuild
    assert not result.plan.full_refresh, result.plan.reason
    assert result.jurisdiction["catalogue"] == "qingdao-2021" and result.jurisdiction["district_count"] == 10
    assert "jurisdiction: catalogue qingdao-2021" in result.summary()
    manifest = json.loads((Path(result.database).parent / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["jurisdiction"] == result.jurisdiction
    assert json.loads((wh / "export" / "_manifest.json").read_text(encoding="utf-8"))["jurisdiction"] == \
        result.jurisdiction


def test_no_landing_folder_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(BuildError, match="no landing folder") as caught:
        build(tmp_path / "empty")
    assert caught.value.stage == "landing"


_HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])     # read-write: as a notebook pointed at the wrong file would
print("holding", flush=True)
time.sleep(600)
"""


def test_working_database_held_by_another_process_is_one_line_naming_it(built_copy):
    """Another process with the working database open: one line naming it and what to do, exit 2,
    nothing published. Before: dbt's ~100 lines of traceback around "Conflicting lock is held"."""
    wh = built_copy("held")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(wh / "work" / "junheng.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(DatabaseBusy) as caught:
            build(wh, catalogue="qingdao-2021")
        out = subprocess.run([sys.executable, "-m", "junheng.cli", "build", "--warehouse", str(wh), "--quiet"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    err = caught.value
    assert err.stage == "dbt" and "dbt" not in err.timings    # found before dbt started
    text = str(err)
    assert "\n" not in text and f"process {holder.pid} ({sys.executable} -c" in text
    assert f"kill {holder.pid}" in text and str(wh / "junheng.duckdb") in text
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("junheng build failed at dbt: the working database"), out.stderr
    assert "Traceback" not in out.stderr and f"PID {holder.pid}" not in out.stderr
    assert current_version(wh) == 1 and not (wh / "published" / "v000002").exists()


def _fake_dbt(source_db: Path, plant, *statements: str):
    """Stand in for `dbt build`: put a copy of a built working database in place and break it."""
    def run(project, warehouse, database, as_of, catalogue, echo, timings, selection=(), **kwargs):
        if "--select" in selection:   # the alert mart, after the alerts: leave the planted copy alone
            return {"pass": 1}
        shutil.copyfile(source_db, database)
        plant(database, *statements)
        return {"pass": 1}
    return run


BAD_CV = ("update mart_district_balance set cv = -0.5 where (district_code, year, level, indicator) = "
          "(select (district_code, year, level, indicator) from mart_district_balance where passed order by all limit 1)")


def test_failed_checkpoint_publishes_nothing_and_keeps_the_served_marts(built, built_copy, plant, monkeypatch):
    wh = built_copy("failing")
    before = {p.relative_to(wh): p.read_bytes() for p in (wh / "published").rglob("*") if p.is_file()}
    monkeypatch.setattr(pipeline, "run_dbt", _fake_dbt(Path(built.warehouse) / "work" / "junheng.duckdb", plant, BAD_CV))
    with pytest.raises(BuildError) as caught:
        build(wh, catalogue="qingdao-2021")
    err = caught.value
    assert err.stage == "checkpoint" and err.checkpoint is not None and not err.checkpoint.success
    text = str(err)
    assert "1 expectation failed, so nothing was published" in text
    assert "mart_district_balance: expect_column_values_to_be_between(cv)" in text
    assert err.checkpoint.results_path in text
    assert current_version(wh) == 1
    assert {p.relative_to(wh): p.read_bytes() for p in (wh / "published").rglob("*") if p.is_file()} == before
    assert (wh / "junheng.duckdb").resolve() == (wh / "published" / "v000001" / "junheng.duckdb").resolve()
    assert not (wh / "work" / "state.json").exists(), "the working database is not trusted after a failed build"


def test_cmd_build_exits_1_with_the_reason(built, built_copy, plant, monkeypatch, capsys):
    import junheng.build as jb

    wh = built_copy("cli")
    monkeypatch.setattr(pipeline, "run_dbt", _fake_dbt(Path(built.warehouse) / "work" / "junheng.duckdb", plant, BAD_CV))
    assert jb.main(["--warehouse", str(wh), "--catalogue", "qingdao-2021", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("junheng build failed at checkpoint:")
    assert "mart_district_balance" in err and "expect_column_values_to_be_between(cv)" in err
    assert current_version(wh) == 1
