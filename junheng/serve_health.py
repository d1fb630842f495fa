"""The builder's (`junheng serve`) metrics and health checks; the metrics are junheng/metrics.py's.

The builder tells :class:`BuilderHealth` what happens (a build ended, with its result, duration and
alert run; the published manifest was read); the ages are computed when Prometheus scrapes, so
stale marts show a growing ``junheng_marts_age_seconds`` and ``junheng_marts_pending_seconds`` (how
long landed data has waited for a build) even while the builder is stuck.

``/healthz``: the builder's loop has not stopped (a long build is alive). ``/readyz``: the last build
published (before the first build of this process: marts are published). A failed build makes it
not ready until a build succeeds again; the marts readers open stay the last good ones meanwhile.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from junheng.metrics import HealthServer, Metrics

__all__ = ["BuilderHealth", "serve_metrics"]


class BuilderHealth:
    def __init__(self, builder: Any, metrics: Metrics) -> None:
        """`builder`: a junheng.serve.Builder (its ``last_build``, ``_state``, ``_published_cached``)."""
        self.builder, self.metrics = builder, metrics
        metrics.marts_pending = self.pending

    def pending(self) -> float | None:
        """Seconds since the first landing change the published marts do not have yet (None: current)."""
        since = self.builder._pending_since
        return None if since is None else max(0.0, time.monotonic() - since)

    def measure(self, result: str, seconds: float, alerts: Any = None) -> None:
        """A build ended: "ok" (with its alert run, if the alert stage ran), "failed" or "abandoned"."""
        self.metrics.record_build(result, seconds)
        self.metrics.record_alert_run(alerts)

    def published(self, manifest: dict[str, Any] | None) -> None:
        built_at = (manifest or {}).get("built_at")
        try:
            self.metrics.published(dt.datetime.fromisoformat(built_at).timestamp() if built_at else None)
        except (TypeError, ValueError):
            self.metrics.published(None)

    def alive(self) -> tuple[bool, str]:
        state = self.builder._state
        return state != "stopped", f"builder {state}"

    def ready(self) -> tuple[bool, str]:
        last = self.builder.last_build
        if last is None:
            published = self.builder._published_cached
            return (
                published is not None,
                f"serving version {published.get('version')}" if published else "nothing published yet",
            )
        if last.get("ok"):
            return True, f"the last build published version {last.get('version')}"
        what = "was abandoned" if last.get("abandoned") else f"FAILED at {last.get('stage')}: {last.get('error')}"
        return False, f"the last build {what}"


def serve_metrics(builder: Any, port: int, bind: str, catalogue: str | None) -> HealthServer:
    """Give `builder` its metrics and serve them with /healthz and /readyz on `port`."""
    from junheng import __version__
    from junheng.compiled_engine import engine_kind
    from junheng.errors import UserError
    from junheng.settings import catalogue_name

    metrics = Metrics(
        "builder",
        version=__version__,
        engine="compiled" if engine_kind() == "mypyc" else "pure",
        catalogue=catalogue or catalogue_name(),
    )
    builder.health = BuilderHealth(builder, metrics)
    builder._published()
    try:
        server = HealthServer(metrics, port, bind, alive=builder.health.alive, ready=builder.health.ready)
    except OSError as exc:
        raise UserError(f"{exc} (--metrics-port, JUNHENG_METRICS_PORT, JUNHENG_METRICS_BIND)") from None
    builder.log(f"metrics on {server.url}/metrics, health on /healthz and /readyz")
    return server
