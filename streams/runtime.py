"""Process settings both drivers share.

The engine allocates many small, long-lived objects (section evaluations, version records), and
CPython's cyclic collector re-scans long-lived objects at every full collection. The drivers
freeze what exists after start-up (reference data, the catalogue, restored states, GX) out of
the collector's generations. (Raising the generation-0 threshold was measured too, and did not
help: see docs/benchmarks.md.)
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
