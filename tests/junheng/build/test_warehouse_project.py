"""The warehouse's own dbt project (junheng/build/project.py) and its jurisdiction record
(ingestion/jurisdiction.py), without dbt: what is copied, what is rendered, what is left alone."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from ingestion.jurisdiction import Jurisdiction, JurisdictionError, record, recorded
from junheng.build.project import prepare
from junheng.incremental import make_plan
from junheng.layout import LandingFile, WarehouseLayout
from rules import load_catalogue
from rules.seeds import render

ROOT = Path(__file__).resolve().parents[3]
PACKAGED = ROOT / "ingestion" / "reference" / "districts.csv"


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def fewer_districts(path: Path, keep: int) -> Path:
    lines = PACKAGED.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:keep + 1]), encoding="utf-8")
    return path


@pytest.fixture
def source(tmp_path):
    copy = tmp_path / "package" / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return copy


def test_the_copy_is_the_package_with_rendered_seeds_and_the_package_is_only_read(source, tmp_path):
    layout = WarehouseLayout(tmp_path / "wh")
    before = tree_digest(source)
    seeds = render(load_catalogue("national-2017"), fewer_districts(tmp_path / "four.csv", 4))
    project, changed = prepare(source, layout, seeds)

    assert project == layout.dbt_project == tmp_path / "wh" / "work" / "dbt_project"
    assert tree_digest(source) == before, "the package's dbt project was changed"
    copied = tree_digest(project)
    assert {k: v for k, v in copied.items() if not k.startswith("seeds/")} == \
        {k: v for k, v in before.items() if not k.startswith("seeds/")}
    assert {k[len("seeds/"):] for k in copied if k.startswith("seeds/")} == set(seeds)
    districts = (project / "seeds" / "districts.csv").read_text(encoding="utf-8").splitlines()
    assert len(districts) == 5 and districts[-1].startswith("370212,")
    assert "national-2017" in (project / "seeds" / "catalogue_settings.csv").read_text(encoding="utf-8")
    assert sorted(changed) == sorted(copied)


def test_only_changed_files_are_written_and_removed_ones_go(source, tmp_path):
    """Unchanged files keep their modification time (dbt's partial parse stays warm); a model
    the package dropped is dropped from the copy; a seed another list renders is rewritten."""
    layout = WarehouseLayout(tmp_path / "wh")
    seeds = render(load_catalogue("qingdao-2021"), PACKAGED)
    project, _ = prepare(source, layout, seeds)
    mtimes = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}
    _, changed = prepare(source, layout, seeds)
    assert changed == [] and {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()} == mtimes

    (source / "models" / "marts" / "mart_alerts.sql").write_text("select 1 as x\n", encoding="utf-8")
    (source / "macros" / "kinds" / "veto.sql").unlink()
    (project / "target").mkdir()
    (project / "target" / "kept.json").write_text("{}", encoding="utf-8")
    other = render(load_catalogue("qingdao-2021"), fewer_districts(tmp_path / "three.csv", 3))
    _, changed = prepare(source, layout, other)
    assert changed == ["macros/kinds/veto.sql", "models/marts/mart_alerts.sql", "seeds/districts.csv"]
    assert not (project / "macros" / "kinds" / "veto.sql").exists()
    assert (project / "target" / "kept.json").exists()


def test_another_district_list_is_a_full_rebuild_naming_the_seed(source, tmp_path, monkeypatch):
    layout = WarehouseLayout(tmp_path / "wh")
    for table in ("events", "section_results", "district_status"):
        layout.landing_table(table).mkdir(parents=True)
        (layout.landing_table(table) / LandingFile(0, "embedded").name).write_bytes(b"PAR1")
    project, _ = prepare(source, layout, render(load_catalogue("qingdao-2021"), PACKAGED))
    state = make_plan(layout, None, project_dir=project).state
    assert not make_plan(layout, state, project_dir=project).full_refresh

    prepare(source, layout, render(load_catalogue("qingdao-2021"), fewer_districts(tmp_path / "six.csv", 6)))
    plan = make_plan(layout, state, project_dir=project)
    assert plan.full_refresh and "the district list changed (seed districts.csv)" in plan.reason, plan.reason

    state = plan.state
    prepare(source, layout, render(load_catalogue("national-2017"), fewer_districts(tmp_path / "six.csv", 6)))
    plan = make_plan(layout, state, project_dir=project)
    assert plan.full_refresh and "the catalogue changed (qingdao-2021" in plan.reason, plan.reason


def test_the_jurisdiction_is_recorded_and_a_change_is_said(tmp_path, monkeypatch):
    layout = WarehouseLayout(tmp_path / "wh")
    monkeypatch.delenv("JUNHENG_DISTRICTS", raising=False)
    monkeypatch.delenv("JUNHENG_CATALOGUE", raising=False)
    first = Jurisdiction.current()
    assert (first.catalogue, first.district_count, first.packaged_districts) == ("qingdao-2021", 10, True)
    assert first.catalogue_version == load_catalogue("qingdao-2021").version
    assert record(layout, first, by="junheng run") is None
    assert record(layout, first, by="junheng build") is None            # the same: not rewritten
    assert recorded(layout)["recorded_by"] == "junheng run"

    four = fewer_districts(tmp_path / "four.csv", 4)
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(four))
    second = Jurisdiction.current("national-2017")
    assert (second.district_count, second.packaged_districts, second.districts) == (4, False, str(four.resolve()))
    note = record(layout, second, by="junheng build")
    assert note and "catalogue qingdao-2021" in note and "→ national-2017" in note and str(four.resolve()) in note
    doc = json.loads(layout.jurisdiction.read_text(encoding="utf-8"))
    assert doc["catalogue"] == "national-2017" and doc["districts_digest"] == second.districts_digest
    assert doc["previous"]["catalogue"] == "qingdao-2021" and doc["recorded_by"] == "junheng build"

    four.write_text(four.read_text(encoding="utf-8") + "370299,某区,Some District,district,rural\n", encoding="utf-8")
    edited = Jurisdiction.current("national-2017")
    assert edited.districts == second.districts and edited.districts_digest != second.districts_digest
    assert "district list" in (record(layout, edited, by="junheng worker w1") or "")

    catalogue = tmp_path / "local.yaml"
    catalogue.write_text("catalogue: local\nversion: '7'\nextends: qingdao-2021\nrules: []\n", encoding="utf-8")
    local = Jurisdiction.current(str(catalogue))
    assert local.catalogue == str(catalogue.resolve()) and local.catalogue_version.endswith("local@7")


def test_an_unreadable_district_list_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(tmp_path / "missing.csv"))
    with pytest.raises(JurisdictionError, match="cannot read the district list .*missing.csv"):
        Jurisdiction.current("qingdao-2021")


def test_a_missing_district_list_stops_run_and_build_in_one_line(tmp_path, monkeypatch, capsys):
    """Before anything is judged, landed or built: exit 2, the file named, no traceback."""
    from junheng.build import BuildInputError, build
    from junheng.cli import main

    monkeypatch.setenv("JUNHENG_DISTRICTS", str(tmp_path / "nowhere.csv"))
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n", encoding="utf-8")
    wh = tmp_path / "wh"
    assert main(["run", str(events), "--warehouse", str(wh), "--no-build"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("junheng run: cannot read the district list") and "nowhere.csv" in err
    assert len(err.splitlines()) == 1 and not WarehouseLayout(wh).landing.exists()

    WarehouseLayout(wh).landing.mkdir(parents=True)
    with pytest.raises(BuildInputError, match="nowhere.csv") as caught:
        build(wh)
    assert caught.value.stage == "seeds" and "dbt" not in caught.value.timings
