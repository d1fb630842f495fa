"""Second validation layer: Great Expectations (GX 1.x) suites over micro-batches of events.

The per-event contract (:mod:`ingestion.contract`) has already rejected malformed JSON, schema
breaks and impossible values; this layer adds the plausibility and cross-field checks that are
cheap to state over a table, and runs once per micro-batch because a GX call costs tens of
milliseconds whatever its size.

Public API::

    BatchValidator()                        load suites/*.json into an ephemeral GX context (once)
    BatchValidator.validate(events)         -> [None | "gx:<suite>:<expectation>:<column>", ...]
    MicroBatcher(max_events=500, max_seconds=1.0)   .add(item) / .flush_due(now) / .drain()

Suites live as GX 1.x ExpectationSuite JSON in ``expectations/suites/``; how an event becomes rows
of a suite's table (one per section, per facilities object, per event) is in
:mod:`expectations.flatten`. :mod:`expectations.batching` has no GX dependency; importing
``MicroBatcher`` alone does not import GX or pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from expectations.batching import MicroBatcher

if TYPE_CHECKING:  # pragma: no cover
    from expectations.validator import BatchValidator, SuiteError, load_suite_specs

__all__ = ["BatchValidator", "MicroBatcher", "SuiteError", "load_suite_specs"]


def __getattr__(name: str) -> Any:
    # GX and pandas take about a second to import; the streaming code that only needs MicroBatcher
    # should not pay for them.
    if name in ("BatchValidator", "SuiteError", "load_suite_specs"):
        from expectations import validator

        return getattr(validator, name)
    raise AttributeError(f"module 'expectations' has no attribute {name!r}")
