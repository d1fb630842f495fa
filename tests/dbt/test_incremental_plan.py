"""junheng.incremental.make_plan: when a build may be incremental, and when it must rebuild
everything (no dbt here: the plan is made from the landing folder and the dbt project's files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from junheng.incremental import STATE_VERSION, make_plan, watermark
from junheng.layout import LandingFile, WarehouseLayout

ROOT = Path(__file__).resolve().parents[2]


def land(layout: WarehouseLayout, table: str, batch: int, writer: str = "embedded") -> Path:
    folder = layout.landing_table(table)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LandingFile(batch, writer).name
    path.write_bytes(b"PAR1")  # the plan reads names, not contents
    return path


@pytest.fixture
def project(tmp_path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return copy


@pytest.fixture
def layout(tmp_path):
    layout = WarehouseLayout(tmp_path / "wh")
    for table in ("events", "section_results", "district_status"):
        land(layout, table, 0)
        land(layout, table, 1)
    return layout


def test_nothing_published_is_a_full_rebuild(layout, project):
    plan = make_plan(layout, None, project_dir=project)
    assert plan.full_refresh and plan.dbt_args == ["--full-refresh"] and plan.dbt_vars == {}
    assert plan.reason == "full rebuild: no published build to start from"
    assert plan.state["version"] == STATE_VERSION
    assert plan.state["watermark"]["events"] == {"embedded": {"batch": 1, "files": 2}}
    assert plan.state["fingerprint"]["catalogue"] == "qingdao-2021"


def test_new_files_since_the_last_build_are_an_incremental_build(layout, project):
    state = make_plan(layout, None, project_dir=project).state
    same = make_plan(layout, state, project_dir=project)
    assert not same.full_refresh and same.reason == "incremental: no new landing file"
    assert same.dbt_args == ["--exclude", "test_type:unit", "resource_type:test"] and same.dbt_vars == {}
    land(layout, "events", 2)
    land(layout, "events", 7, writer="worker-3")  # another writer, its own batch numbers
    land(layout, "district_status", 2)
    plan = make_plan(layout, state, project_dir=project)
    assert not plan.full_refresh
    assert plan.reason.startswith("incremental: 3 new landing files (events 2, district_status 1)")
    assert plan.state["watermark"]["events"] == {
        "embedded": {"batch": 2, "files": 3},
        "worker-3": {"batch": 7, "files": 1},
    }


def test_a_late_file_below_the_watermark_is_new_too(layout, project):
    """Batch numbers grow per writer; a file of a lower batch that shows up later (a writer that
    renamed out of order) is not lost: the warehouse includes every file its ledger lacks."""
    land(layout, "events", 3)
    state = make_plan(layout, None, project_dir=project).state  # events 0, 1, 3
    land(layout, "events", 2)
    plan = make_plan(layout, state, project_dir=project)
    assert not plan.full_refresh and plan.reason.startswith("incremental: 1 new landing file (events 1)")


def test_files_gone_since_the_last_build_are_a_full_rebuild(layout, project):
    """The warehouse holds rows of files that are not there any more (a landing folder cleaned or
    compacted): only a full rebuild drops them."""
    state = make_plan(layout, None, project_dir=project).state
    (layout.landing_table("events") / LandingFile(1, "embedded").name).unlink()
    land(layout, "events", 5)
    plan = make_plan(layout, state, project_dir=project)
    assert plan.full_refresh and "events (writer embedded) that the last build included are gone" in plan.reason


def test_files_being_written_are_left_for_the_next_build(layout, project):
    state = make_plan(layout, None, project_dir=project).state
    hidden = layout.landing_table("events") / LandingFile(2, "embedded").temporary_name
    hidden.write_bytes(b"")
    assert watermark(layout)["events"] == {"embedded": {"batch": 1, "files": 2}}
    assert make_plan(layout, state, project_dir=project).reason == "incremental: no new landing file"


@pytest.mark.parametrize(
    "change, said",
    [
        (
            lambda p: (p / "models" / "marts" / "mart_district_balance.sql").write_text("select 1", encoding="utf-8"),
            "the dbt project changed (models/marts/mart_district_balance.sql)",
        ),
        (lambda p: (p / "macros" / "kinds" / "veto.sql").unlink(), "the dbt project changed (macros/kinds/veto.sql)"),
        (
            lambda p: (p / "seeds" / "districts.csv").write_text(
                "district_code,name_zh,name_en,kind,profile\n", encoding="utf-8"
            ),
            "the district list changed (seed districts.csv)",
        ),
        (
            lambda p: (p / "seeds" / "rule_params.csv").write_text("x\n", encoding="utf-8"),
            "the catalogue's seeds changed (rule_params.csv)",
        ),
        (
            lambda p: (p / "seeds" / "catalogue_settings.csv").write_text(
                "catalogue,catalogue_version\nnational-2017,national-2017@2017.1\n", encoding="utf-8"
            ),
            "the catalogue changed (qingdao-2021 national-2017@2017.1+qingdao-2021@2021.1 → national-2017 national-2017@2017.1)",
        ),
        (
            lambda p: (p / "dbt_project.yml").write_text("name: other\n", encoding="utf-8"),
            "the dbt project changed (dbt_project.yml)",
        ),
    ],
)
def test_a_changed_fingerprint_is_a_full_rebuild_saying_what_changed(layout, project, change, said):
    state = make_plan(layout, None, project_dir=project).state
    change(project)
    plan = make_plan(layout, state, project_dir=project)
    assert plan.full_refresh and plan.dbt_args == ["--full-refresh"]
    assert said in plan.reason, plan.reason


def test_a_state_of_another_version_is_a_full_rebuild(layout, project):
    state = dict(make_plan(layout, None, project_dir=project).state, version=STATE_VERSION + 1)
    plan = make_plan(layout, state, project_dir=project)
    assert plan.full_refresh and "of version" in plan.reason


def test_the_profile_and_dbt_output_are_not_part_of_the_fingerprint(layout, project):
    """profiles.yml says where the database is (Helper P's working database), target/ and logs/
    are dbt's output: none of them changes what the marts hold."""
    state = make_plan(layout, None, project_dir=project).state
    (project / "profiles.yml").write_text("junheng: {}\n", encoding="utf-8")
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "manifest.json").write_text("{}", encoding="utf-8")
    assert not make_plan(layout, state, project_dir=project).full_refresh
