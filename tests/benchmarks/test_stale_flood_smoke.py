"""Keeps benchmarks/stale_flood.py working at a small size: every stale version is counted stale
on the first pass and again on the rerun, and the fact keeps at most the window of seen ids.
Not a speed assertion: the linearity ratio is the benchmark's to report (docs/benchmarks.md)."""

from __future__ import annotations

from benchmarks import stale_flood
from benchmarks.__main__ import stale_flood_rows


def test_stale_flood_figures() -> None:
    figures = stale_flood.run(3000)
    assert figures["first_pass"]["outcomes"] == {"stale": 3000}
    assert figures["rerun"]["outcomes"] == {"stale": 3000}
    assert figures["seen_ids_kept_for_the_fact"] == figures["seen_window"]
    assert figures["event_ids_indexed"] < 100  # the good district's facts + one window
    labels = [row[0] for row in stale_flood_rows(figures)]
    assert any("seen ids kept" in label for label in labels)
