"""The marts checkpoint (expectations/marts): it passes on a real warehouse, writes its results and
Data Docs, and a row that breaks a mart's invariants fails it with a message naming the mart, the
expectation and the row."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml

from expectations.marts import CheckpointError, catalogue_parameters, load_mart_suites, run_checkpoint

ROOT = Path(__file__).resolve().parents[3]
MARTS = ROOT / "dbt_project" / "models" / "marts"

pytestmark = [pytest.mark.slow]


def _contract_columns(mart: str) -> list[str]:
    model = yaml.safe_load((MARTS / f"{mart}.yml").read_text(encoding="utf-8"))["models"][0]
    return [c["name"] for c in model["columns"]]


def test_every_mart_has_a_suite_naming_only_its_columns():
    suites = {s.name: s for s in load_mart_suites()}
    assert set(suites) == {p.stem for p in MARTS.glob("mart_*.yml")}
    params = catalogue_parameters("qingdao-2021")
    for name, suite in suites.items():
        known = set(_contract_columns(name)) | set(suite.derived_columns)
        assert suite.columns() <= known, f"{name}: {suite.columns() - known} are neither contract nor derived columns"
        assert set(suite.key) <= known
        assert suite.parameters() <= set(params), name


def test_catalogue_parameters_are_the_catalogues_numbers():
    params = catalogue_parameters("qingdao-2021")
    assert params["indicators"] == [f"R{i}" for i in range(1, 8)]
    assert sorted(map(tuple, params["cv_thresholds"])) == [("junior", 0.45), ("primary", 0.5)]
    assert ["R1|primary", 4.2] in params["indicator_thresholds"] and len(params["indicator_thresholds"]) == 14
    assert params["ras_min_met"] == 6
    assert params["target_shares"] == [0.0, 0.3, 1.0]


def test_gx_accepts_every_expectation():
    """GX drops an expectation it cannot build with only a log line; none may go missing."""
    import great_expectations as gx

    for s in load_mart_suites():
        suite = gx.ExpectationSuite(name=s.name, expectations=s.expectations)
        assert len(suite.expectations) == len(s.expectations), s.name


def test_checkpoint_passes_on_the_built_warehouse(built):
    cp = built.checkpoint
    assert cp.success, cp.message()
    suites = load_mart_suites()
    assert [s.mart for s in cp.suites] == [s.mart for s in suites]
    assert cp.statistics["evaluated"] == sum(len(s.expectations) for s in suites) == cp.statistics["successful"]
    assert cp.failures == [] and cp.unchecked_marts == []
    rows = {s.mart: s.rows for s in cp.suites}
    assert min(v for k, v in rows.items() if k != "mart_alerts") > 0   # alerts may be none
    assert cp.catalogue == "qingdao-2021"


def test_results_json_and_data_docs_are_written(built):
    cp = built.checkpoint
    wh = Path(built.warehouse)
    results = Path(cp.results_path)
    assert results.parent == wh / "gx" / "results" and results.name == f"{cp.run_id}.json"
    document = json.loads(results.read_text(encoding="utf-8"))
    assert document["success"] is True and document["run_id"] == cp.run_id
    assert document["statistics"] == cp.statistics
    assert {s["mart"] for s in document["suites"]} == {s.mart for s in cp.suites}

    docs = wh / "gx" / "data_docs"
    index = docs / "index.html"
    assert cp.data_docs_index == str(index) and index.is_file(), cp.data_docs_error
    html = index.read_text(encoding="utf-8")
    for s in cp.suites:
        assert f"validations/{s.mart}/{cp.run_id}/" in html, s.mart
        assert list((docs / "validations" / s.mart / cp.run_id).glob("*/*.html")), s.mart
        assert (docs / "expectations" / f"{s.mart}.html").is_file()
    latest = Path(cp.summary_page).read_text(encoding="utf-8")
    assert cp.run_id in latest and "passed" in latest and "<script" not in latest


def test_planted_bad_rows_fail_naming_mart_expectation_and_row(warehouse_copy, plant):
    wh = warehouse_copy("bad")
    db = wh / "junheng.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    district, year = con.execute(
        "select district_code, year from mart_district_attainment where attained = false and not vetoed "
        "and len(failed_items) > 0 and len(undecided_items) = 0 order by all limit 1").fetchone()
    balance_key = con.execute(
        "select district_code, year, level, indicator from mart_district_balance where passed order by all limit 1"
    ).fetchone()
    con.close()
    plant(db,
          f"update mart_district_attainment set attained = true where district_code = '{district}' and year = {year}",
          "update mart_district_balance set cv = -0.25 where (district_code, year, level, indicator) = "
          f"('{balance_key[0]}', {balance_key[1]}, '{balance_key[2]}', '{balance_key[3]}')")

    cp = run_checkpoint(wh, "qingdao-2021")
    assert not cp.success
    found = {(f.mart, f.expectation, f.column): f for f in cp.failures}
    assert set(found) == {
        ("mart_district_attainment", "expect_column_values_to_be_between", "failed_items_count"),
        ("mart_district_balance", "expect_column_values_to_be_between", "cv"),
    }, cp.message()
    attained = found[("mart_district_attainment", "expect_column_values_to_be_between", "failed_items_count")]
    assert attained.unexpected_count == 1 and attained.row_condition == "attained == True"
    assert attained.unexpected_rows[0]["district_code"] == district and attained.unexpected_rows[0]["year"] == year
    cv = found[("mart_district_balance", "expect_column_values_to_be_between", "cv")]
    assert cv.unexpected_count == 1 and cv.unexpected_values == [-0.25]
    assert cv.unexpected_rows[0]["indicator"] == balance_key[3]

    message = cp.message()
    assert "FAILED" in message
    assert "mart_district_attainment: expect_column_values_to_be_between(failed_items_count)" in message
    assert "An attained district-year has no failed item" in message
    assert f"district_code={district}, year={year}" in message
    assert "mart_district_balance: expect_column_values_to_be_between(cv)" in message

    document = json.loads(Path(cp.results_path).read_text(encoding="utf-8"))
    assert document["success"] is False and len(document["failures"]) == 2
    assert cp.statistics["unsuccessful"] == 2
    latest = Path(cp.summary_page).read_text(encoding="utf-8")
    assert "FAILED" in latest and "failed_items_count" in latest


def test_each_kind_of_broken_invariant_is_caught(warehouse_copy, plant):
    """One run, many plants, each on its own expectation; a missing mart fails too."""
    wh = warehouse_copy("broken")
    plant(wh / "junheng.duckdb",
          # the threshold is not the catalogue's for R1 primary
          "update mart_school_section_indicators set threshold = 9.9 where (school_id, section, year, indicator) = "
          "(select (school_id, section, year, indicator) from mart_school_section_indicators "
          " where indicator = 'R1' and section = 'primary' order by all limit 1)",
          # met, but far below the threshold
          "update mart_school_section_indicators set ratio_to_threshold = 0.5 where (school_id, section, year, indicator) = "
          "(select (school_id, section, year, indicator) from mart_school_section_indicators "
          " where met and indicator = 'R7' order by all desc limit 1)",
          # eight of seven indicators met
          "update mart_school_section_status set indicators_met = 8 where (school_id, section, year) = "
          "(select (school_id, section, year) from mart_school_section_status order by all limit 1)",
          # a primary coefficient judged against the junior threshold
          "update mart_district_balance set threshold = 0.45 where (district_code, year, level, indicator) = "
          "(select (district_code, year, level, indicator) from mart_district_balance "
          " where level = 'primary' and passed and cv < 0.4 order by all limit 1)",
          # a district-year twice
          "insert into mart_district_accountability select * from mart_district_accountability "
          "order by district_code, year limit 1",
          # a share above 1
          "update mart_city_progress set attained_share = 1.5 where year = (select min(year) from mart_city_progress)",
          "drop table mart_alerts",
          # a column a derived column is computed from is gone
          "alter table mart_district_attainment drop column undecided_items")

    cp = run_checkpoint(wh, "qingdao-2021")
    failed = {(f.mart, f.expectation, f.column) for f in cp.failures}
    assert failed == {
        ("mart_school_section_indicators", "expect_column_pair_values_to_be_in_set", "indicator_level, threshold"),
        ("mart_school_section_indicators", "expect_column_values_to_be_between", "ratio_to_threshold"),
        ("mart_school_section_status", "expect_column_values_to_be_between", "indicators_met"),
        ("mart_school_section_status", "expect_multicolumn_sum_to_equal",
         "indicators_met+indicators_missed+indicators_undecided"),
        ("mart_district_balance", "expect_column_pair_values_to_be_in_set", "level, threshold"),
        ("mart_district_accountability", "expect_compound_columns_to_be_unique", "district_code+year"),
        ("mart_city_progress", "expect_column_values_to_be_between", "attained_share"),
        ("mart_alerts", "mart_exists", "-"),
        ("mart_district_attainment", "mart_readable", "-"),
    }, cp.message()
    assert all(f.unexpected_count == (2 if f.expectation == "expect_compound_columns_to_be_unique" else 1)
               for f in cp.failures if f.error is None)
    missing = next(f for f in cp.failures if f.expectation == "mart_exists")
    assert "main.mart_alerts not found" in missing.error
    assert "could not be evaluated" in missing.line()
    unreadable = next(f for f in cp.failures if f.expectation == "mart_readable")
    assert "undecided_items" in unreadable.error
    assert not next(s for s in cp.suites if s.mart == "mart_district_attainment").success


def test_no_warehouse_database_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="no warehouse database"):
        run_checkpoint(tmp_path)


def test_gx_keeps_only_the_newest_runs(warehouse_copy):
    wh = warehouse_copy("pruned")
    first = run_checkpoint(wh, "qingdao-2021", keep_runs=1)
    second = run_checkpoint(wh, "qingdao-2021", keep_runs=1)
    assert first.success and second.success
    docs = wh / "gx" / "data_docs"
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert second.run_id in index and first.run_id not in index
    assert not (docs / "validations" / "mart_district_balance" / first.run_id).exists()
    assert not (wh / "gx" / "uncommitted" / "validations" / "mart_district_balance" / first.run_id).exists()
    assert Path(first.results_path).is_file() and Path(second.results_path).is_file()   # summaries are kept


# -- the SQL evaluation is GX's semantics, on the changed partitions when asked ------------------


def _gx_on_pandas(database: Path, suites, params) -> dict:
    """Every suite run by GX itself on the mart read into pandas (the checkpoint's old path): per
    suite, (type, kwargs) → (success, element_count, missing_count, unexpected_count, examples)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.marts import read_mart

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("reference")
    out = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for s in suites:
            batch = source.add_dataframe_asset(s.name).add_batch_definition_whole_dataframe("all")
            suite = context.suites.add(gx.ExpectationSuite(name=s.name, expectations=s.expectations))
            run = context.validation_definitions.add(gx.ValidationDefinition(name=s.name, data=batch, suite=suite))
            found = run.run(batch_parameters={"dataframe": read_mart(con, s)}, expectation_parameters=params,
                            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10})
            out[s.name] = {_config_key(r.expectation_config.type, r.expectation_config.kwargs): (
                r.success, r.result.get("element_count"), r.result.get("missing_count"),
                r.result.get("unexpected_count"), sorted(map(repr, _py(r.result.get("partial_unexpected_list") or []))))
                for r in found.results}
    return out


def _py(value):
    if isinstance(value, (list, tuple)):
        return [_py(v) for v in value]
    if isinstance(value, dict):
        return {k: _py(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return value.item()
    return value


def _config_key(kind: str, kwargs) -> str:
    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items() if k != "batch_id"}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        return v
    return json.dumps([kind, norm(dict(kwargs))], sort_keys=True, default=str)


def test_the_sql_evaluation_finds_what_gx_finds(warehouse_copy, plant):
    """The same suites on the same planted marts: GX on pandas and expectations/marts/sql.py agree on
    every expectation's verdict, row counts (element, missing, unexpected) and examples."""
    from expectations.marts.sql import evaluate_suite

    wh = warehouse_copy("versus-gx")
    db = wh / "junheng.duckdb"
    plant(db,
          "update mart_district_balance set cv = -0.25 where (district_code, year, level, indicator) = "
          "(select (district_code, year, level, indicator) from mart_district_balance where passed order by all limit 1)",
          "update mart_district_balance set threshold = 0.45 where (district_code, year, level, indicator) = "
          "(select (district_code, year, level, indicator) from mart_district_balance "
          " where level = 'primary' and passed and cv < 0.4 order by all limit 1)",
          "update mart_school_section_indicators set threshold = 9.9 where (school_id, section, year, indicator) = "
          "(select (school_id, section, year, indicator) from mart_school_section_indicators "
          " where indicator = 'R1' and section = 'primary' order by all limit 1)",
          "update mart_school_section_indicators set met = null where (school_id, section, year, indicator) = "
          "(select (school_id, section, year, indicator) from mart_school_section_indicators where met order by all limit 1)",
          "update mart_school_section_status set indicators_met = 8 where (school_id, section, year) = "
          "(select (school_id, section, year) from mart_school_section_status order by all limit 1)",
          "insert into mart_district_accountability select * from mart_district_accountability "
          "order by district_code, year limit 1",
          "update mart_city_progress set attained_share = 1.5, year = year + 1 where year = (select min(year) from mart_city_progress)",
          "update mart_district_attainment set attained = true, vetoed = true "
          "where attainment_key = (select min(attainment_key) from mart_district_attainment where not attained)")
    suites = load_mart_suites()
    params = catalogue_parameters("qingdao-2021")
    expected = _gx_on_pandas(db, suites, params)
    failed = 0
    with duckdb.connect(str(db), read_only=True) as con:
        for s in suites:
            found = evaluate_suite(con, s, params)
            assert found.error is None, found.error
            got = {_config_key(o.type, o.kwargs): (o.success, o.element_count, o.missing_count, o.unexpected_count,
                                                   sorted(map(repr, _py(o.unexpected_values))))
                   for o in found.outcomes}
            assert got.keys() == expected[s.name].keys(), s.name
            for key, value in expected[s.name].items():
                assert got[key] == value, (s.name, key, got[key], value)
                failed += not value[0]
    assert failed >= 9   # the plants above broke at least that many expectations


def test_an_expectation_sql_cannot_evaluate_fails_the_checkpoint(warehouse_copy, tmp_path):
    """A suite with an expectation type the SQL evaluator does not know fails, saying so; it is
    never skipped as a pass."""
    import shutil

    from expectations.marts import SUITES_DIR

    suites = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, suites)
    path = suites / "mart_city_progress.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["expectations"].append({"type": "expect_column_values_to_match_regex",
                                     "kwargs": {"column": "catalogue", "regex": "^qingdao"}})
    path.write_text(json.dumps(document), encoding="utf-8")
    cp = run_checkpoint(warehouse_copy("unknown-type"), "qingdao-2021", suites_dir=suites, data_docs=False)
    assert not cp.success
    (failure,) = cp.failures
    assert failure.expectation == "expect_column_values_to_match_regex" and "not evaluated" in failure.error


def _changed_only(database: Path, district: str, from_year: int) -> None:
    """Mark what an incremental build records as changed. The copy is of the published file, which
    carries the marts but not the working database's `incremental` schema."""
    with duckdb.connect(str(database)) as con:
        con.execute("create schema if not exists incremental")
        con.execute("create or replace table incremental.changed_districts as "
                    f"select '{district}' as district_code, {from_year} as from_year")


def test_an_incremental_build_checks_the_changed_district_years(warehouse_copy, plant):
    """After an incremental build the marts rebuilt by district-year are checked on the changed
    district-years (incremental.changed_districts) only; the others, and every mart after a full
    rebuild, on all rows."""
    from junheng.incremental import BuildPlan

    wh = warehouse_copy("changed")
    db = wh / "junheng.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        (first, second) = [r[0] for r in con.execute(
            "select distinct district_code from mart_district_balance order by 1 limit 2").fetchall()]
        (years,) = con.execute("select count(distinct year) from mart_district_balance").fetchone()
    assert years > 2
    plant(db, f"update mart_district_balance set cv = -1 where district_code = '{first}' and year = 2021",
              f"update mart_district_balance set cv = -2 where district_code = '{second}' and year = 2023",
              "update mart_city_progress set attained_share = 2 where year = 2021")
    _changed_only(db, second, 2022)
    incremental = BuildPlan(full_refresh=False, reason="test")

    cp = run_checkpoint(wh, "qingdao-2021", plan=incremental, data_docs=False)
    found = {(f.mart, f.column): f for f in cp.failures}
    assert set(found) == {("mart_district_balance", "cv"), ("mart_city_progress", "attained_share")}, cp.message()
    cv = found[("mart_district_balance", "cv")]
    assert cv.unexpected_values == [-2.0] * min(10, cv.unexpected_count) and {r["district_code"] for r in cv.unexpected_rows} == {second}
    with duckdb.connect(str(db), read_only=True) as con:
        (changed_rows,) = con.execute(f"select count(*) from mart_district_balance where district_code = '{second}' "
                                      "and year >= 2022").fetchone()
        (planted,) = con.execute("select count(*) from mart_district_balance where cv < 0").fetchone()
        (planted_changed,) = con.execute("select count(*) from mart_district_balance where cv < 0 "
                                         f"and district_code = '{second}'").fetchone()
    assert cv.unexpected_count == planted_changed < planted
    assert cv.element_count == changed_rows
    balance = next(s for s in cp.suites if s.mart == "mart_district_balance")
    assert balance.rows == changed_rows and balance.scope == "changed district-years"
    assert next(s for s in cp.suites if s.mart == "mart_city_progress").scope == "all rows"
    assert "changed district-years only (1 district)" in cp.message()

    for plan in (None, BuildPlan(full_refresh=True, reason="test")):
        full = run_checkpoint(wh, "qingdao-2021", plan=plan, data_docs=False)
        cv = next(f for f in full.failures if f.mart == "mart_district_balance" and f.column == "cv")
        assert cv.unexpected_count == planted and full.scope == "all rows"


def test_the_checkpoint_reads_no_mart_into_python(warehouse_copy, tmp_path):
    """Without Data Docs the checkpoint imports neither GX nor pandas: the marts stay in DuckDB."""
    import subprocess
    import sys

    wh = warehouse_copy("lean")
    script = ("import sys\nfrom expectations.marts import run_checkpoint\n"
              f"cp = run_checkpoint({str(wh)!r}, 'qingdao-2021', data_docs=False)\n"
              "assert cp.success, cp.message()\n"
              "print(sorted(m for m in ('pandas', 'great_expectations', 'numpy') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
