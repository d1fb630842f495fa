"""When `junheng serve` starts a build: the debounce, the staleness bound, and a steady stream.

A build starts when the landing is ahead of the published marts and one of these holds:

- **quiet**: the landing has not changed for ``debounce`` seconds, so a burst of batches makes one
  build, not one each;
- **due**: the first unbuilt change is ``max_staleness`` minus the last build's duration old, so it
  is published within ``max_staleness`` however busy the landing;
- **streaming**: the landing changed all through the last build (the worker lands a batch every
  second or so: a steady stream), and ``debounce`` seconds have passed since that build ended; or
  it has kept changing for :data:`STREAM_AFTER_DEBOUNCES` debounces since the first unbuilt
  change (a stream that began while the builder was idle: a burst of a worker's batches is over
  in a few seconds, a stream is not).
  Under a steady stream the landing is never quiet, so without this rule every build waited for
  the staleness bound: at 500 events/s on the demo city, p99 event → published was 28 s at the
  default bound of 30 s. With it, builds follow each other with a ``debounce`` gap for the worker,
  and an event waits for at most the build running when it lands, the gap and its own build.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STREAM_AFTER_DEBOUNCES", "Schedule"]

#: A landing that keeps changing this many debounces after its first unbuilt change is a stream.
STREAM_AFTER_DEBOUNCES = 3


@dataclass(frozen=True)
class Schedule:
    debounce_s: float
    max_staleness_s: float

    def why_now(
        self,
        now: float,
        *,
        last_change: float,
        pending_since: float,
        last_duration_s: float,
        streaming: bool,
        last_build_ended: float,
    ) -> str | None:
        """Which rule starts a build at monotonic time `now` ("quiet", "due", "streaming"), or None
        (wait). `streaming`: the landing changed during the last build (it published and found
        more)."""
        if now - pending_since >= max(0.0, self.max_staleness_s - last_duration_s):
            return "due"
        if now - last_change >= self.debounce_s:
            return "quiet"
        if streaming and now - last_build_ended >= self.debounce_s:
            return "streaming"
        if now - pending_since >= STREAM_AFTER_DEBOUNCES * self.debounce_s:
            return "streaming"
        return None
