"""`junheng.build.build`: dbt build, checkpoint and export end to end on a small warehouse, and the
clear failures — stale seeds, no landing, dbt unable to open the warehouse, a failed checkpoint."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

import junheng.build as jb
from junheng.build import BuildError, build

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow]


def test_build_exports_every_mart_as_parquet(built):
    wh = Path(built.warehouse)
    con = duckdb.connect(built.database, read_only=True)
    try:
        marts = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and table_name like 'mart_%' order by 1").fetchall()]
        assert len(marts) == 7 and sorted(built.exports) == marts
        for mart in marts:
            path = wh / "export" / f"{mart}.parquet"
            assert built.exports[mart].path == str(path)
            rows = con.execute(f"select count(*) from main.{mart}").fetchone()[0]
            assert built.exports[mart].rows == rows
            assert con.execute("select count(*) from read_parquet(?)", [str(path)]).fetchone()[0] == rows
            table_cols = [r[0] for r in con.execute(f"describe main.{mart}").fetchall()]
            file_cols = [r[0] for r in con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()]
            assert file_cols == table_cols, mart
    finally:
        con.close()
    manifest = json.loads((wh / "export" / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["checkpoint_run_id"] == built.checkpoint.run_id and manifest["as_of"] == "2026-06-30"
    assert {k: v["rows"] for k, v in manifest["marts"].items()} == {k: v.rows for k, v in built.exports.items()}
    assert not [p for p in (wh / "export").iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_build_result_reports_stages_and_timings(built):
    assert set(built.timings) == {"seeds", "dbt", "alerts", "dbt_alerts", "checkpoint", "export", "report", "total"}
    assert built.timings["total"] >= built.timings["dbt"] > 0
    assert not {"error", "fail", "warn", "skipped"} & set(built.dbt) and built.dbt.get("pass", 0) > 50
    text = built.summary()
    n = built.checkpoint.statistics["evaluated"]
    assert built.checkpoint.run_id in text and f"{n} of {n} expectations met" in text
    assert json.loads(json.dumps(built.to_dict()))["checkpoint"]["success"] is True


def test_stale_seeds_stop_the_build_before_dbt(built, tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    seed = project / "seeds" / "ra_cv_thresholds.csv"
    seed.write_text(seed.read_text(encoding="utf-8").replace("0.45", "0.5"), encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        build(built.warehouse, project_dir=project, catalogue="qingdao-2021")
    err = caught.value
    assert err.stage == "seeds" and "dbt" not in err.timings
    assert "stale" in str(err) and "ra_cv_thresholds.csv" in str(err)
    assert f"python -m rules.seeds {project / 'seeds'} --catalogue qingdao-2021" in str(err)


def test_no_landing_folder_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(BuildError, match="no landing folder") as caught:
        build(tmp_path / "empty")
    assert caught.value.stage == "landing"


def test_dbt_failure_names_the_cause(warehouse_copy):
    """dbt cannot open a warehouse another process holds open for writing: the error says so."""
    wh = warehouse_copy("locked")
    holder = duckdb.connect(str(wh / "junheng.duckdb"))   # a writer, as a BI tool or notebook might be
    try:
        with pytest.raises(BuildError) as caught:
            build(wh, catalogue="qingdao-2021")
    finally:
        holder.close()
    err = caught.value
    assert err.stage == "dbt" and err.log_tail and err.timings["dbt"] > 0
    text = str(err)
    assert "dbt build failed" in text and "Could not set lock" in text
    assert "open in another process" in text and str(wh / "dbt-logs" / "dbt.log") in text
    assert not (wh / "export").exists()


def _fake_dbt(source_db: str, plant, *statements: str):
    """Stand in for `dbt build`: put a copy of a built warehouse in place and break it."""
    def run(project, warehouse, as_of, catalogue, echo, timings, selection=()):
        if "--select" in selection:   # the alert mart, after the alerts: leave the planted copy alone
            return {"pass": 1}
        shutil.copy2(source_db, warehouse / "junheng.duckdb")
        plant(warehouse / "junheng.duckdb", *statements)
        return {"pass": 1}
    return run


BAD_CV = ("update mart_district_balance set cv = -0.5 where (district_code, year, level, indicator) = "
          "(select (district_code, year, level, indicator) from mart_district_balance where passed order by all limit 1)")


def test_failed_checkpoint_fails_the_build_and_keeps_the_previous_export(built, warehouse_copy, plant, monkeypatch):
    wh = warehouse_copy("failing")
    shutil.copytree(Path(built.warehouse) / "export", wh / "export")
    before = {p.name: p.read_bytes() for p in (wh / "export").iterdir()}
    monkeypatch.setattr(jb, "_run_dbt", _fake_dbt(built.database, plant, BAD_CV))
    with pytest.raises(BuildError) as caught:
        build(wh, catalogue="qingdao-2021")
    err = caught.value
    assert err.stage == "checkpoint" and err.checkpoint is not None and not err.checkpoint.success
    text = str(err)
    assert "1 expectation failed, so nothing was exported" in text
    assert "mart_district_balance: expect_column_values_to_be_between(cv)" in text
    assert err.checkpoint.results_path in text
    assert {p.name: p.read_bytes() for p in (wh / "export").iterdir()} == before


def test_cmd_build_exits_1_with_the_reason(built, warehouse_copy, plant, monkeypatch, capsys):
    wh = warehouse_copy("cli")
    monkeypatch.setattr(jb, "_run_dbt", _fake_dbt(built.database, plant, BAD_CV))
    assert jb.main(["--warehouse", str(wh), "--catalogue", "qingdao-2021", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("junheng build failed at checkpoint:")
    assert "mart_district_balance" in err and "expect_column_values_to_be_between(cv)" in err
