"""Keeps `python -m benchmarks.freshness --serve` (the figure behind "city correction → published",
docs/benchmarks.md) working at the tiny scale: `junheng serve` publishes the full build, then each
landed correction as the next version, and the figures add up. No speed is asserted: targets are
checked by running the benchmark, never by a test."""

from __future__ import annotations

import statistics

import pytest

from benchmarks import freshness
from benchmarks.__main__ import freshness_rows
from benchmarks.scale import SCALES

pytestmark = [pytest.mark.slow]


def test_serve_publishes_each_correction_and_the_figures_add_up(tmp_path) -> None:
    figures = freshness.run(SCALES["tiny"], tmp_path, corrections=2, serve_debounce_s=0.5)

    assert figures["embedded"]["counts"]["applied"] > 0
    full = figures["full_build"]
    assert full["build"]["published_version"] == 1 and full["total_s"] >= full["build"]["seconds"] > 0
    steps = figures["corrections"]
    assert [s["build"]["published_version"] for s in steps] == [2, 3]
    for step in steps:
        assert step["correction"]["applied"] == step["correction"]["events"] > 0
        assert step["build"]["timings"]["dbt"] > 0 and "publish" in step["build"]["timings"]
        # end to end = landing + noticing and debounce + the build, each measured
        assert step["total_s"] >= step["correction"]["wall_s"] + step["build"]["seconds"] - 0.02
        assert step["waited_s"] >= 0.0
    median = figures["correction_median_s"]
    assert median["total"] == statistics.median(s["total_s"] for s in steps)
    assert median["build"] == statistics.median(s["build"]["seconds"] for s in steps)
    rows = freshness_rows(figures)
    assert [r[0] for r in rows][1] == "freshness tiny: correction -> published (serve), s"
    assert rows[1][3] is None  # the target is the city's: not judged at the tiny scale
