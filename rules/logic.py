"""Three-valued logic and threshold comparison shared by every evaluator.

A missing input must never read as a pass or a fail, so results are True, False or None
(undecided) and combine by Kleene's rules: one False decides an AND, otherwise one None
leaves it undecided.
"""

from __future__ import annotations

from collections.abc import Iterable

# Values reach the engine as binary floats of decimal figures (4.2 is not exactly 4.2), so
# "exactly at a threshold meets it" needs a tolerance far below any real difference.
# This is numerical hygiene, not a number of the standard.
RELATIVE_TOLERANCE = 1e-12


def compare(value: float, comparator: str, threshold: float) -> bool:
    """`value comparator threshold`, with equality judged to RELATIVE_TOLERANCE."""
    slack = RELATIVE_TOLERANCE * max(abs(value), abs(threshold))
    if comparator == ">=":
        return value >= threshold - slack
    if comparator == "<=":
        return value <= threshold + slack
    if comparator == ">":
        return value > threshold + slack
    if comparator == "<":
        return value < threshold - slack
    if comparator == "==":
        return abs(value - threshold) <= slack
    raise ValueError(f"unknown comparator {comparator!r}")


def bound(comparator: str, threshold: float) -> float:
    """The threshold moved by the tolerance, so that for non-negative values
    `value >= bound(">=", t)` is exactly `compare(value, ">=", t)` (and likewise for "<="):
    the hot path then compares once instead of calling compare()."""
    if comparator == ">=":
        return threshold * (1 - RELATIVE_TOLERANCE)
    if comparator == "<=":
        return threshold / (1 - RELATIVE_TOLERANCE)
    raise ValueError(f"bound() supports >= and <=, not {comparator!r}")


def all_of(values: Iterable[bool | None]) -> bool | None:
    """Kleene AND: False if any is False, else None if any is None, else True."""
    undecided = False
    for v in values:
        if v is False:
            return False
        if v is None:
            undecided = True
    return None if undecided else True


def from_counts(failed: int, undecided: int, total: int) -> bool | None:
    """An 'every member passes' rule from running counts; no member at all is undecided."""
    if failed:
        return False
    if undecided or total == 0:
        return None
    return True
