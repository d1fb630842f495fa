"""Fast checks for the two string formats the contract uses: ``date`` and ``date-time``.

JSON Schema 2020-12 treats ``format`` as an annotation unless a validator is told to assert it, and
the generic format checkers are slow and lenient in different ways (``date.fromisoformat`` in 3.11
accepts ``20240101`` and week dates; ``datetime.fromisoformat`` accepts naive timestamps). The
platform orders and dates facts by these strings, so the contract pins one strict profile here and
both schema validators (the fast compiled one and the reference one used for messages) call these
functions.

Profile accepted for ``date-time`` (a subset of RFC 3339 section 5.6)::

    YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)

- upper-case ``T`` and ``Z`` only, seconds required, 1 to 9 fraction digits;
- the offset is mandatory, so every accepted value is timezone-aware;
- the calendar date must exist, hours 00-23, minutes and seconds 00-59 (no leap second 60, because
  Python's datetime cannot hold it), offset hours 00-23 and minutes 00-59.

Every accepted value parses with :func:`datetime.datetime.fromisoformat` on Python 3.11, which is
what consumers should use (see :func:`parse_datetime`).

``date`` is ``YYYY-MM-DD`` with a date that exists in the calendar (year 0001-9999).
"""

from __future__ import annotations

import re
from datetime import date, datetime

__all__ = ["is_date", "is_datetime", "parse_datetime"]

# [0-9] instead of \d: \d also matches non-ASCII digits such as '٣' in str patterns.
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.[0-9]{1,9})?(?:Z|[+-]([0-9]{2}):([0-9]{2}))"
)


def is_date(value: object) -> bool:
    """True when ``value`` is a ``YYYY-MM-DD`` string naming a real calendar day.

    Non-strings return True: like every JSON Schema format, ``date`` constrains strings only and
    the ``type`` keyword is responsible for the rest.
    """
    if not isinstance(value, str):
        return True
    m = _DATE_RE.fullmatch(value)  # fullmatch: '$' would let a trailing newline through
    if m is None:
        return False
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def is_datetime(value: object) -> bool:
    """True when ``value`` is an RFC 3339 date-time in the profile described in the module docstring.

    Non-strings return True, as for :func:`is_date`.
    """
    if not isinstance(value, str):
        return True
    m = _DATETIME_RE.fullmatch(value)
    if m is None:
        return False
    try:
        datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
    except ValueError:  # 2024-02-30, hour 24, minute 60, second 60 ...
        return False
    if m[7] is not None and (int(m[7]) > 23 or int(m[8]) > 59):
        return False
    return True


def parse_datetime(value: str) -> datetime:
    """Parse a date-time that :func:`is_datetime` accepted into an aware :class:`datetime`.

    Exists so consumers do not each pick their own parser: for accepted values this is exactly
    ``datetime.fromisoformat`` (fractions beyond microseconds are truncated).
    """
    return datetime.fromisoformat(value)
