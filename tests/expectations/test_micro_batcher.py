"""MicroBatcher: size and time bounds, driven by an injected clock. No GX involved."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from expectations import MicroBatcher


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_size_bound_returns_full_batch_and_starts_a_new_one():
    clock = FakeClock()
    b = MicroBatcher(max_events=3, max_seconds=10.0, clock=clock)
    assert b.add(1) is None
    assert b.add(2) is None
    assert b.add(3) == [1, 2, 3]
    assert len(b) == 0 and b.started_at is None
    assert b.add(4) is None
    assert len(b) == 1


def test_time_bound_counts_from_the_first_item():
    clock = FakeClock(100.0)
    b = MicroBatcher(max_events=500, max_seconds=1.0, clock=clock)
    assert b.flush_due(1_000.0) is None  # nothing pending: never due
    b.add("a")
    clock.t = 100.6
    b.add("b")  # a later item does not restart the clock
    assert b.deadline() == pytest.approx(101.0)
    assert b.flush_due(100.99) is None
    assert b.flush_due(101.0) == ["a", "b"]
    assert b.flush_due(200.0) is None
    clock.t = 150.0
    b.add("c")
    assert b.started_at == 150.0
    assert b.flush_due(150.5) is None
    assert b.flush_due(151.2) == ["c"]


def test_size_bound_wins_before_the_time_bound():
    clock = FakeClock()
    b = MicroBatcher(max_events=2, max_seconds=1.0, clock=clock)
    b.add(1)
    assert b.add(2) == [1, 2]
    assert b.flush_due(clock.t + 5) is None


def test_drain_returns_pending_and_empties():
    b = MicroBatcher(max_events=10, max_seconds=1.0, clock=FakeClock())
    assert b.drain() == []
    b.add("x")
    b.add("y")
    assert b.drain() == ["x", "y"]
    assert b.drain() == []
    assert b.deadline() is None


def test_every_item_comes_out_exactly_once():
    clock = FakeClock(0.0)
    b = MicroBatcher(max_events=7, max_seconds=0.5, clock=clock)
    out: list[int] = []
    for i in range(100):
        clock.t = i * 0.03
        full = b.add(i)
        if full:
            out.extend(full)
        due = b.flush_due(clock.t)
        if due:
            out.extend(due)
    out.extend(b.drain())
    assert out == list(range(100))


def test_max_seconds_zero_makes_every_pending_batch_due():
    clock = FakeClock(5.0)
    b = MicroBatcher(max_events=10, max_seconds=0, clock=clock)
    b.add(1)
    assert b.flush_due(5.0) == [1]


def test_defaults():
    b = MicroBatcher()
    assert (b.max_events, b.max_seconds) == (500, 1.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_events": 0}, {"max_events": 1.5}, {"max_events": True}, {"max_seconds": -1}, {"max_seconds": float("nan")}],
)
def test_rejects_bad_bounds(kwargs):
    with pytest.raises(ValueError):
        MicroBatcher(**kwargs)


def test_importing_micro_batcher_does_not_import_gx():
    root = Path(__file__).resolve().parents[2]
    code = "import sys, expectations; expectations.MicroBatcher(); print('great_expectations' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
