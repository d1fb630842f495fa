"""Incremental builds equal full rebuilds (issue #11, part 2).

The demo city (seed 2021, 300 schools) is landed by the embedded driver and built once in full
(junheng.incremental.make_plan with no previous state). Then, step by step, new events are landed
and built incrementally with the plan make_plan gives from the previous build's state:

1. corrections -- new versions of school facts (staff, facilities, enrolment) in three districts;
2. retractions -- a school closed (its registration superseded with closed_year) in two districts,
   and a finance fact superseded in a third; then every school of a district closed from 2025 (its
   school marts have no row that year any more: a delete keyed on the new rows would keep the old);
3. a district's statistics revised (this year's SR and next year's C12 read them);
4. a build that stops after the staging tables (what a build killed part-way leaves), then a
   correction built on top of it;
5. a catalogue change (a bureau's own catalogue tightening thresholds: seeds re-rendered), which
   make_plan turns into a full rebuild by itself, and a correction built incrementally after it.

After every step the incremental warehouse's marts equal, row for row and column for column
(doubles within 1e-9 relative), those of a second warehouse rebuilt in full from the same landing
files; the step changed the marts (the comparison is not vacuous); the engine's own verdicts still
equal the SQL's (tests/dbt/test_dbt_build.py's cross-checks); and the marts checkpoint passes on
the changed district-years.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks.corrections import corrections, load_events, retractions, schools_closed, statistics_change, write_jsonl
from junheng.incremental import BuildPlan, make_plan
from junheng.layout import WarehouseLayout

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt_project"
DBT = shutil.which("dbt", path=str(Path(sys.executable).parent))
AS_OF = dt.date(2026, 6, 30)
REL_TOL = 1e-9

pytestmark = [pytest.mark.slow]


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"junheng_tests_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare_marts = _load("compare_marts")
cross_checks = _load("test_dbt_build")
gap_checks = _load("gap_checks")

ALT_CATALOGUE = """\
catalogue: alt-incremental
version: "1"
extends: qingdao-2021
settings:
  teaching_point_min_students: 50
overrides:
  R1: {thresholds: {primary: 4.5, junior: 5.5}}
  RA-CV: {thresholds: {primary: 0.3, junior: 0.3}}
rules: []
"""


def dbt_build(
    warehouse: Path,
    args: list[str],
    project: Path = PROJECT,
    catalogue: str | None = None,
    variables: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dbt build` of `project` into `warehouse`, as junheng build runs it (vars as_of + the plan's)."""
    env = dict(
        os.environ, JUNHENG_WAREHOUSE=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false"
    )
    if catalogue:
        env["JUNHENG_CATALOGUE"] = catalogue
    cmd = [
        DBT,
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(warehouse / "dbt-target"),
        "--log-path",
        str(warehouse / "dbt-logs"),
        "--vars",
        json.dumps({"as_of": AS_OF.isoformat(), **(variables or {})}),
        *args,
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return done


class City:
    """The incremental warehouse (its landing and engine state), the full-rebuild reference beside it
    (same landing files, its own database) and the state the last build recorded."""

    def __init__(self, root: Path) -> None:
        from ingestion.synthetic import generate_city

        self.root = root
        self.warehouse = root / "incremental"
        self.reference = root / "full"
        self.reference.mkdir(parents=True)
        self.events_file = root / "city.jsonl"
        generate_city(seed=2021, schools=300).write_jsonl(self.events_file)
        self.events = load_events(self.events_file)
        self.project = PROJECT
        self.catalogue: str | None = None
        self.state: dict[str, Any] | None = None
        self.steps = 0
        self.land(self.events_file)
        (self.reference / "landing").symlink_to(self.warehouse / "landing")

    def land(self, path: Path) -> None:
        from rules import load_catalogue
        from streams.embedded import EmbeddedRunner

        catalogue = load_catalogue(self.catalogue) if self.catalogue else None
        summary = EmbeddedRunner(self.warehouse, catalogue=catalogue).run([path])
        assert summary.counts["dead_lettered"] == 0 and summary.counts["applied"] > 0, summary.counts

    def land_events(self, events: list[dict[str, Any]]) -> None:
        self.steps += 1
        path = write_jsonl(self.root / f"step-{self.steps}.jsonl", events)
        self.land(path)
        self.events += events

    def build(self) -> BuildPlan:
        """What junheng build does: plan from the recorded state, dbt with the plan, the checkpoint
        on the working database, record the state once it passed."""
        from expectations.marts import run_checkpoint

        plan = make_plan(WarehouseLayout(self.warehouse), self.state, project_dir=self.project)
        dbt_build(self.warehouse, plan.dbt_args, self.project, self.catalogue, plan.dbt_vars)
        checkpoint = run_checkpoint(self.warehouse, self.catalogue or "qingdao-2021", plan=plan, data_docs=False)
        assert checkpoint.success, checkpoint.message()
        self.state = plan.state
        return plan

    def rebuild_reference(self) -> None:
        WarehouseLayout(self.reference).database.unlink(missing_ok=True)
        dbt_build(
            self.reference,
            ["--full-refresh", "--exclude", "resource_type:test", "resource_type:unit_test"],
            self.project,
            self.catalogue,
        )

    def snapshot(self, name: str) -> Path:
        copy = self.root / f"{name}.duckdb"
        shutil.copyfile(WarehouseLayout(self.warehouse).database, copy)
        return copy

    def assert_equals_full_rebuild(self) -> None:
        self.rebuild_reference()
        notes: list[str] = []
        problems = compare_marts.compare(
            self.reference,
            self.warehouse,
            also=["intermediate.int_district_rule_verdicts"],
            rel_tol=REL_TOL,
            notes=notes,
        )
        assert not problems, "\n".join(problems)

    def assert_engine_agrees(self) -> None:
        from rules import load_catalogue
        from streams.embedded import EmbeddedRunner

        catalogue = load_catalogue(self.catalogue) if self.catalogue else None
        states = EmbeddedRunner(self.warehouse, catalogue=catalogue).open().states
        with duckdb.connect(str(WarehouseLayout(self.warehouse).database), read_only=True) as con:
            cross_checks.check_sections(con, states)
            cross_checks.check_balance(con, states)
            cross_checks.check_attainment(con, states, engine_landed=self.catalogue is None)
            cross_checks.check_accountability(con, states)
            gap_checks.check_gaps(con, states, engine_landed=self.catalogue is None)


def _changed(before: Path, after: Path) -> list[str]:
    return compare_marts.compare(before, after, rel_tol=REL_TOL)


def _changed_districts(warehouse: Path) -> list[tuple[str, int]]:
    with duckdb.connect(str(WarehouseLayout(warehouse).database), read_only=True) as con:
        return [tuple(r) for r in con.execute("select * from incremental.changed_districts order by all").fetchall()]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    city = City(tmp_path_factory.mktemp("incremental-city"))
    plan = city.build()
    assert plan.full_refresh and "no published build" in plan.reason
    city.assert_equals_full_rebuild()
    return city


def test_a_build_with_nothing_new_changes_nothing(city):
    before = city.snapshot("before-nothing")
    plan = city.build()
    assert not plan.full_refresh and plan.reason == "incremental: no new landing file"
    assert plan.dbt_args == ["--exclude", "test_type:unit", "resource_type:test"] and plan.dbt_vars == {}
    assert _changed_districts(city.warehouse) == []
    assert _changed(before, city.warehouse) == []


def test_corrections(city):
    before = city.snapshot("before-corrections")
    step = corrections(city.events, districts=3)
    city.land_events(step)
    plan = city.build()
    assert not plan.full_refresh and "5 new landing files" in plan.reason, plan.reason
    touched = _changed_districts(city.warehouse)
    assert {d for d, _ in touched} == {e["district_code"] for e in step} and {y for _, y in touched} == {2023}
    assert _changed(before, city.warehouse), "the corrections changed no mart"
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()


def test_retractions(city):
    before = city.snapshot("before-retractions")
    step = retractions(city.events, districts=2, year=2024)
    city.land_events(step)
    plan = city.build()
    assert not plan.full_refresh
    closed = {e["district_code"] for e in step if e["event_type"] == "school.registered"}
    assert {d for d, y in _changed_districts(city.warehouse) if y == 0} == closed  # a registration: every year
    changes = "\n".join(_changed(before, city.warehouse))
    assert "mart_school_section_status" in changes, "closing a school removed none of its sections"
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()

    step = schools_closed(city.events, year=2025)
    district = step[0]["district_code"]
    city.land_events(step)
    assert not city.build().full_refresh
    with duckdb.connect(str(WarehouseLayout(city.warehouse).database), read_only=True) as con:
        for mart in ("mart_school_section_status", "mart_school_section_indicators", "mart_district_balance"):
            assert con.execute(
                f"select count(*) from main.{mart} where district_code = ? and year = 2025", [district]
            ).fetchone() == (0,), mart
            assert (
                con.execute(
                    f"select count(*) from main.{mart} where district_code = ? and year = 2024", [district]
                ).fetchone()[0]
                > 0
            ), mart
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()


def test_a_district_statistics_revision(city):
    before = city.snapshot("before-statistics")
    step = statistics_change(city.events, year=2022)
    city.land_events(step)
    plan = city.build()
    assert not plan.full_refresh
    assert _changed_districts(city.warehouse) == [(step[0]["district_code"], 2022)]
    assert _changed(before, city.warehouse)
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()


def test_a_build_stopped_part_way_is_completed_by_the_next(city):
    """A build killed after the staging tables took in the new files (the ledger not yet written)
    leaves the next build to include those files again: the staging tables drop the rows of a
    file they read twice, and the marts come out as a full rebuild's."""
    step = corrections(city.events, districts=2, year=2024, seed=7)
    city.land_events(step)
    dbt_build(
        city.warehouse,
        [
            "--select",
            "landing_new_files",
            "changed_districts",
            "stg_events",
            "stg_section_results",
            "stg_district_status",
            "stg_district_gaps",
            "stg_district_outlook",
        ],
    )
    with duckdb.connect(str(WarehouseLayout(city.warehouse).database), read_only=True) as con:
        (included,) = con.execute("select count(*) from incremental.landing_new_files").fetchone()
    assert included == 5  # the ledger does not list them yet (events, sections, status, gaps, outlook)
    plan = city.build()
    assert not plan.full_refresh
    with duckdb.connect(str(WarehouseLayout(city.warehouse).database), read_only=True) as con:
        (twice,) = con.execute(
            "select count(*) from (select landed_file, landed_pos from staging.stg_events "
            "group by all having count(*) > 1)"
        ).fetchone()
    assert twice == 0
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()


def test_a_catalogue_change_rebuilds_everything_by_itself(city, tmp_path_factory):
    """A bureau's catalogue: the seeds are rendered for it (as junheng build requires), and
    make_plan sees the fingerprint change and plans a full rebuild; the build after it is
    incremental again."""
    from rules.seeds import main as write_seeds

    root = tmp_path_factory.mktemp("alt-catalogue")
    catalogue = root / "alt.yaml"
    catalogue.write_text(ALT_CATALOGUE, encoding="utf-8")
    project = root / "dbt_project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    assert write_seeds([str(project / "seeds"), "--catalogue", str(catalogue)], write=lambda _: None) == 0
    city.project, city.catalogue = project, str(catalogue)

    before = city.snapshot("before-catalogue")
    plan = city.build()
    assert plan.full_refresh and "the catalogue changed (qingdao-2021" in plan.reason, plan.reason
    assert plan.dbt_args == ["--full-refresh"]
    with duckdb.connect(str(WarehouseLayout(city.warehouse).database), read_only=True) as con:
        assert con.execute("select distinct catalogue from main.mart_district_balance").fetchall() == [
            ("alt-incremental",)
        ]
        assert con.execute("select distinct threshold from main.mart_district_balance").fetchall() == [(0.3,)]
    assert _changed(before, city.warehouse)
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()

    step = corrections(city.events, districts=2, year=2022, seed=11)
    city.land_events(step)
    plan = city.build()
    assert not plan.full_refresh, plan.reason
    city.assert_equals_full_rebuild()
    city.assert_engine_agrees()
