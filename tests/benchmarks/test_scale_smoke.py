"""Keeps benchmarks/scale.py working: the quick run produces every figure, and the figures are
sane (counts add up, memory and times positive). Not a speed or memory assertion -- targets are
checked by running the benchmark (docs/benchmarks.md), never by a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import scale


def _sane_counts(counts: dict[str, int], lines: int) -> None:
    assert counts["read"] == lines
    assert counts["read"] == counts["applied"] + counts["duplicate"] + counts["stale"] + counts["dead_lettered"]
    assert counts["applied"] > 0.9 * lines


@pytest.mark.kafka
def test_quick_run_reports_every_figure(tmp_path: Path) -> None:
    figures = scale.run(quick=True, workdir=tmp_path)
    assert figures["machine"]["cores"] >= 1 and len(figures["loadavg_start"]) == 3
    tiny = figures["scales"]["tiny"]
    lines = tiny["workload"]["lines"]
    assert lines > 500 and tiny["workload"]["districts"] == 12  # two beyond Qingdao's ten

    emb = tiny["embedded"]
    _sane_counts(emb["counts"], lines)
    assert emb["counts"]["dead_lettered"] < 0.05 * lines  # the fake districts are known, not dead-lettered
    assert 50 * 2**20 < emb["peak_rss_bytes"] < 4 * 2**30
    assert emb["wall_s"] > 0 and emb["landing_bytes"] > 0

    worker = tiny["worker"]
    # the worker half needs the broker: without one this is a failure, never a skip
    assert "skipped" not in worker, f"worker not measured: {worker['skipped']} (bash infra/kafka/kafka.sh start)"
    _sane_counts(worker["counts"], lines)
    assert worker["produce"]["sent"] == lines
    assert 50 * 2**20 < worker["peak_rss_bytes"] < 4 * 2**30
    assert worker["exit_code"] == 0 and worker["deleted_topics"] >= 5
    assert worker["rss_curve"] and worker["districts_loaded"] >= 1


def test_national_districts_get_their_own_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The national run's district list and dbt project copy pass the build's seed check."""
    from ingestion.reference import load_districts
    from rules import load_catalogue
    from rules.seeds import render, stale

    csv_path = tmp_path / "districts.csv"
    scale.write_districts_csv(csv_path, 25, 2021)
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(csv_path))
    districts = load_districts()
    assert len(districts) == 25 and "370202" in districts and "900000" in districts
    project = scale.national_dbt_project(tmp_path / "dbt_project", csv_path)
    from ingestion.reference import districts_csv

    assert stale(project / "seeds", render(load_catalogue("qingdao-2021"), districts_csv())) == []
    assert (project / "dbt_project.yml").is_file() and not (project / "target").exists()
