"""When `junheng serve` starts a build (junheng/serve_schedule.py): after a quiet moment, at the
staleness bound, and, under a steady stream, a debounce after the last build."""

from __future__ import annotations

from junheng.serve_schedule import Schedule

SCHEDULE = Schedule(debounce_s=2.0, max_staleness_s=30.0)


def _why(
    now: float,
    *,
    last_change: float,
    pending_since: float = 0.0,
    streaming: bool = False,
    last_build_ended: float = 0.0,
    last_duration_s: float = 4.0,
) -> str | None:
    return SCHEDULE.why_now(
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
    assert _why(25.9, last_change=25.5) is None
    assert _why(26.0, last_change=25.5) == "due"  # 30 s bound - the last build's 4 s


def test_a_steady_stream_builds_a_debounce_after_the_last_build_not_at_the_bound():
    # the last build ended at 10 s and the landing changed all through it: builds follow each other
    ended = 10.0
    assert _why(11.0, last_change=10.9, pending_since=6.0, streaming=True, last_build_ended=ended) is None
    assert _why(12.0, last_change=11.9, pending_since=6.0, streaming=True, last_build_ended=ended) == "streaming"
    # the same landing after an idle spell (no build found more) waits for quiet or the bound
    assert _why(12.0, last_change=11.9, pending_since=6.0, streaming=False, last_build_ended=ended) is None
