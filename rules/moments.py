"""Exact running sums for the enrolment-weighted coefficient of variation.

The standard's incremental form keeps W = ΣP, A = ΣP·X and B = ΣP·X² and reads the
variance as B/W − X̄². In floating point that subtraction cancels catastrophically when the
schools are alike (small CV), and a long stream of retractions leaves residue. Here the sums
are exact instead: every float X is a dyadic rational m/2^k, so with a common power-of-two
scale 2^s (s = the largest k seen so far) A and B are Python integers and each retraction
removes exactly what was added. The CV is then (B·W − A²)/A² evaluated once in integer
arithmetic and rounded once: it equals a two-pass recompute to the last bit or two, and the
variance can never be negative. The integers stay small (X has a 53-bit mantissa and a
modest exponent), so an update costs a few hundred nanoseconds.
"""

from __future__ import annotations

import math
from operator import truediv

# The big-integer quotients below go through operator.truediv, Python's correctly rounded int/int
# division. Written as `a / b`, mypyc (scripts/compile-rules.sh) compiles it as float(a)/float(b)
# for integers of up to 62 bits, rounding twice, and the compiled engine's means and CVs then
# differed from the pure-Python ones in the last bit (tests/rules/test_compiled_engine.py).


class WeightedMoments:
    """Σ weights, Σ w·x and Σ w·x² over a multiset of (weight, value) pairs, exactly."""

    __slots__ = ("count", "weight", "_a", "_b", "_shift")

    def __init__(self) -> None:
        self.count = 0
        self.weight = 0
        self._a = 0
        self._b = 0
        self._shift = 0

    def add(self, weight: int, value: float) -> None:
        self._update(weight, value, 1)

    def remove(self, weight: int, value: float) -> None:
        self._update(weight, value, -1)

    def _update(self, weight: int, value: float, sign: int) -> None:
        num, den = value.as_integer_ratio()
        k = den.bit_length() - 1
        if k > self._shift:
            grow = k - self._shift
            self._a <<= grow
            self._b <<= 2 * grow
            self._shift = k
        scaled = num << (self._shift - k)
        wx = weight * scaled
        if sign > 0:
            self.count += 1
            self.weight += weight
            self._a += wx
            self._b += wx * scaled
        else:
            self.count -= 1
            self.weight -= weight
            self._a -= wx
            self._b -= wx * scaled

    def mean(self) -> float | None:
        """Weighted mean, or None with no weight (no students: nothing to average)."""
        if self.weight <= 0:
            return None
        return truediv(self._a, self.weight << self._shift)  # type: ignore[no-any-return]

    def variance(self) -> float | None:
        """Population variance Σ(w/W)(x − x̄)², exact until the final rounding; never negative."""
        if self.weight <= 0:
            return None
        numerator = self._b * self.weight - self._a * self._a
        return truediv(numerator, (self.weight * self.weight) << (2 * self._shift))  # type: ignore[no-any-return]

    def cv(self) -> float | None:
        """Coefficient of variation S/x̄, or None when the mean is zero or there is no weight."""
        a = self._a
        if self.weight <= 0 or a == 0:
            return None
        a2 = a * a
        return math.sqrt(truediv(self._b * self.weight - a2, a2))

    def is_empty(self) -> bool:
        return self.count == 0

    def to_state(self) -> list[int]:
        return [self.count, self.weight, self._a, self._b, self._shift]

    @classmethod
    def from_state(cls, state: list[int]) -> WeightedMoments:
        m = cls()
        m.count, m.weight, m._a, m._b, m._shift = (int(v) for v in state)
        return m


def weighted_cv(pairs: list[tuple[int, float]]) -> float | None:
    """The standard's formula evaluated directly (two passes, exact rationals): the reference
    that incremental results are checked against."""
    from fractions import Fraction

    pairs = [(w, x) for w, x in pairs if w > 0]
    total = sum(w for w, _ in pairs)
    if total == 0:
        return None
    mean = sum(Fraction(w) * Fraction(x) for w, x in pairs) / total
    if mean == 0:
        return None
    var = sum(Fraction(w, total) * (Fraction(x) - mean) ** 2 for w, x in pairs)
    return math.sqrt(var / (mean * mean))
