"""When `junheng serve` starts a build (junheng/serve_schedule.py): after a quiet moment, at the
staleness bound, and, under a steady stream, a debounce after the last build or three debounces
into a stream that began while it was idle."""

from __future__ import annotations

from junheng.serve_schedule import STREAM_AFTER_DEBOUNCES, Schedule


def _why(
    now: float,
    *,
    last_change: float,
    pending_since: float = 0.0,
    streaming: bool = False,
    last_build_ended: float = 0.0,
    last_duration_s: float = 4.0,
    debounce_s: float = 2.0,
) -> str | None:
    return Schedule(debounce_s=debounce_s, max_staleness_s=30.0).why_now(
        now,
        last_change=last_change,
        pending_since=pending_since,
        last_duration_s=last_duration_s,
        streaming=streaming,
        last_build_ended=last_build_ended,
    )


def test_a_burst_waits_for_a_quiet_moment():
    assert _why(1.5, last_change=1.0) is None  # still landing
    assert _why(3.0, last_change=1.0) == "quiet"  # quiet for the debounce


def test_a_landing_that_never_quiets_is_built_at_the_staleness_bound_less_a_build():
    # a debounce of 10 s: a stream would be recognised only at 30 s, after the bound
    assert _why(25.9, last_change=25.5, debounce_s=10.0) is None
    assert _why(26.0, last_change=25.5, debounce_s=10.0) == "due"  # 30 s bound - the last build's 4 s


def test_a_landing_changing_for_three_debounces_is_a_stream():
    assert STREAM_AFTER_DEBOUNCES == 3
    assert _why(5.9, last_change=5.8) is None
    assert _why(6.0, last_change=5.9) == "streaming"  # 3 × 2 s, never quiet


def test_a_steady_stream_builds_a_debounce_after_the_last_build():
    # the last build ended at 10 s and the landing changed all through it: builds follow each other
    ended = 10.0
    assert _why(11.0, last_change=10.9, pending_since=9.5, streaming=True, last_build_ended=ended) is None
    assert _why(12.0, last_change=11.9, pending_since=9.5, streaming=True, last_build_ended=ended) == "streaming"
    # the same landing after a build that found nothing more waits for quiet or three debounces
    assert _why(12.0, last_change=11.9, pending_since=9.5, streaming=False, last_build_ended=ended) is None
