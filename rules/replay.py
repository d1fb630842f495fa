"""The order in which stored facts are replayed into a fresh district state.

A district's facts are stored without the order they arrived in: the worker's facts table keeps
one entry per fact, a warehouse's landed events are spread over files of several writers. Replayed
through ``DistrictState.apply_batch``, they must give the state that applying them as they came
gave. Two things in the state depend on order:

- a school's facts need its registration (``apply`` dead-letters a school fact whose school is not
  registered, ``unknown_school``), and the district's registration is read by its yearly rules;
- the versions of one fact must come in the order they were applied (a lower seq after a higher one
  is stale), which a stable sort keeps.

Everything else is order-free: a school-year is judged from its facts at the end of a batch, and a
district's totals are sums. So registrations come first (schools, then the district), then every
other fact, each group by year, the order given kept within equal keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

E = TypeVar("E", bound=Mapping[str, Any])

#: event types replayed before all others, in this order
REPLAY_FIRST: Mapping[str, int] = {"school.registered": 0, "district.registered": 1}


def replay_key(event: Mapping[str, Any]) -> tuple[int, int]:
    """The sort key of one event: (registrations first, year)."""
    return REPLAY_FIRST.get(event["event_type"], len(REPLAY_FIRST)), int(event["year"])


def replay_order(events: Iterable[E]) -> list[E]:
    """`events` in the order to replay them (a stable sort by :func:`replay_key`)."""
    return sorted(events, key=replay_key)
