"""`junheng serve`: keep the published marts fresh while a Kafka worker lands events.

    junheng serve --warehouse DIR [--max-staleness 30] [--debounce 2]

A process beside the worker (not a task inside it: docs/marts.md, "Fresh marts on Kafka", argues
the choice). It needs only the warehouse folder. It polls the landing's file names
(junheng/build/landing.py) and compares them with the watermark the current published build
recorded; when the landing is ahead it runs the same build as ``junheng build``
(junheng/build/pipeline.py: dbt as a subprocess, alerts, mart_alerts, checkpoint, publish, report),
with dbt kept warm in one child process across builds (junheng/build/dbt_session.py):

- **debounced**: it waits until the landing has been quiet for ``debounce`` seconds, so a burst of
  batches makes one build, not one each;
- **bounded staleness**: but it never waits so long that data landed first would be older than
  ``max_staleness`` when the build publishes: a build starts at the latest ``max_staleness`` minus
  the last build's duration after the first unbuilt change, however busy the landing;
- **a steady stream** (the landing changed all through the last build) does not wait for a quiet
  moment that never comes: the next build starts ``debounce`` seconds after the last one ended
  (junheng/serve_schedule.py);
- **one at a time**: a build runs in this process's main thread and holds the warehouse lock only
  while it builds; if another command holds the lock (a `junheng build` by hand), it waits;
- **failures**: a failed build is logged in one line and tried again at the next landing change or
  after a backoff (doubling from ``retry`` to 5 minutes); the marts readers open stay the last good
  ones;
- the date deadlines are judged on (``as_of``, default today) moving on also asks for a build;
- **status**: ``<warehouse>/serve.json`` says what it is doing (idle, waiting, building), the
  published version and its age, the last build's outcome, the count of builds and its warm dbt
  child (pid, children started, commands run); with
  ``--metrics-port`` the same as Prometheus metrics, with /healthz and /readyz (serve_health.py);
- **stopping**: SIGTERM or SIGINT ends it with exit 0: idle at once; during a build dbt is
  terminated and nothing is published (a publish that has started completes first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from junheng import settings
from junheng.errors import UserError
from junheng.layout import WarehouseLayout
from junheng.serve_schedule import Schedule

__all__ = ["Builder", "ServeOptions", "add_arguments", "cmd_serve"]

RETRY_MAX_S = 300.0
STATUS_EVERY_S = 10.0  # serve.json is rewritten at least this often (the published version's age)


@dataclass
class ServeOptions:
    warehouse: Path
    max_staleness_s: float = 30.0
    debounce_s: float = 2.0
    poll_s: float = 0.5
    retry_s: float = 10.0
    as_of: dt.date | None = None  # None: today, at each build
    catalogue: str | None = None
    keep: int | None = None
    alerts: bool = True
    report: bool = True
    data_docs: bool = True


@dataclass
class _Counters:
    ok: int = 0
    failed: int = 0
    abandoned: int = 0


class AnotherServer(UserError):
    """A second `junheng serve` on the same warehouse."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Builder:
    """The loop of `junheng serve` (call :meth:`run` with an event that stops it)."""

    def __init__(self, options: ServeOptions, log: Callable[[str], None] | None = None) -> None:
        from junheng.build.dbt_session import DbtSession

        self.options = options
        self.layout = WarehouseLayout(options.warehouse)
        self.log = log or _print_log
        self.counts = _Counters()
        self.last_build: dict[str, Any] | None = None
        self.last_duration_s = 0.0
        self._state = "starting"
        self._pending_since: float | None = None  # monotonic time of the first unbuilt change
        self._started = _now()
        self.health: Any = None  # junheng.serve_health.BuilderHealth when it serves metrics
        # dbt kept warm between builds (~2.5 s of start per build saved); used from run's thread,
        # which the child's parent-death signal follows
        self.dbt = DbtSession()

    # ------------------------------------------------------------------ the loop
    def run(self, stop: threading.Event) -> int:
        try:
            return self._run(stop)
        finally:
            self.dbt.close()

    def _run(self, stop: threading.Event) -> int:
        from junheng.build.landing import watermark

        o = self.options
        built = self._published_watermark()
        published = self._published()
        self.log(
            f"watching {self.layout.landing} (debounce {o.debounce_s:g} s, max staleness {o.max_staleness_s:g} s); "
            + (
                f"serving version {published['version']} built {published.get('built_at')}"
                if published
                else "nothing published yet"
            )
        )
        self.dbt.start()  # dbt imports while the landing is watched
        schedule = Schedule(debounce_s=o.debounce_s, max_staleness_s=o.max_staleness_s)
        streaming, build_ended = False, 0.0  # the landing changed all through the last build
        seen: Any = None
        last_change = time.monotonic()
        failed_mark: Any = None
        retry_at = 0.0
        failures = 0
        self._status("idle")
        while not stop.is_set():
            now = time.monotonic()
            mark = watermark(self.layout)
            if mark != seen:
                seen, last_change = mark, now
            why = self._why_build(mark, built)
            if why is None:
                streaming = False
                if (
                    self._pending_since is not None
                    or self._state != "idle"
                    or now - self._status_written >= STATUS_EVERY_S
                ):
                    self._pending_since = None
                    self._status("idle")
                stop.wait(o.poll_s)
                continue
            if self._pending_since is None:
                self._pending_since = now
                self._status("pending")
            rule = schedule.why_now(
                now,
                last_change=last_change,
                pending_since=self._pending_since,
                last_duration_s=self.last_duration_s,
                streaming=streaming,
                last_build_ended=build_ended,
            )
            allowed = failed_mark is None or mark != failed_mark or now >= retry_at
            if rule is not None and allowed:
                outcome = self._build(stop, why)
                build_ended = time.monotonic()
                streaming = False
                if outcome == "ok":
                    failed_mark, failures = None, 0
                    built = self._published_watermark()
                    after = watermark(self.layout)
                    # landed while it built: waiting since the build started at the latest
                    streaming = self._why_build(after, built) is not None
                    self._pending_since = self._build_started if streaming else None
                elif outcome == "failed":
                    failures += 1
                    failed_mark = mark
                    delay = min(RETRY_MAX_S, o.retry_s * 2 ** (failures - 1))
                    retry_at = time.monotonic() + delay
                    self.log(f"{self._failure}; next try at the next landing change or in {delay:.0f} s")
                self._status("idle" if self._pending_since is None else "pending")
                continue
            stop.wait(o.poll_s)
        self._status("stopped")
        self.log(
            f"stopped ({self.counts.ok} builds published, {self.counts.failed} failed, "
            f"{self.counts.abandoned} abandoned)"
        )
        return 0

    def _why_build(self, mark: Any, built: Any) -> str | None:
        """Why the marts are behind (None: they are not)."""
        from junheng.build.landing import files_beyond

        if not mark:
            return None  # nothing landed yet
        published = self._published_cached
        if built is None or published is None:
            return "nothing published yet"
        if mark != built:
            n = files_beyond(mark, built)
            return f"{n} new landing file{'s' if n != 1 else ''}" if n else "the landing changed"
        today = (self.options.as_of or dt.date.today()).isoformat()
        if published.get("as_of") != today:
            return f"deadlines are judged as of {today} now (published: as of {published.get('as_of')})"
        return None

    # ------------------------------------------------------------------ one build
    def _build(self, stop: threading.Event, why: str) -> str:
        """Run one build; returns "ok", "failed" or "stopped"."""
        from junheng.build import BuildCancelled, BuildError, build
        from junheng.terminal import plain
        from junheng.warehouse_lock import WarehouseBusy, WarehouseLock

        lock = WarehouseLock.of(self.layout.root)
        waited = False
        while not stop.is_set():
            try:
                lock.acquire(wait_s=1.0)
                break
            except WarehouseBusy as exc:
                if not waited:
                    self.log(f"waiting for the warehouse: {plain(exc)}")
                    self._status("waiting", holder=exc.holder)
                    waited = True
        else:
            return "stopped"
        self._build_started = time.monotonic()
        pending_since = self._pending_since if self._pending_since is not None else self._build_started
        started_at = _now()
        self._status("building", reason=why)
        try:
            o = self.options
            result = build(
                self.layout.root,
                as_of=o.as_of,
                catalogue=o.catalogue,
                echo=None,
                wait_s=0.0,
                alerts=o.alerts,
                report=o.report,
                keep=o.keep,
                cancel=stop,
                data_docs=o.data_docs,
                dbt_session=self.dbt,
            )
        except BuildCancelled:
            self.counts.abandoned += 1
            self.last_build = {
                "ok": False,
                "abandoned": True,
                "started_at": started_at,
                "finished_at": _now(),
                "seconds": round(time.monotonic() - self._build_started, 3),
                "reason": why,
            }
            self._measure("abandoned", time.monotonic() - self._build_started)
            self.log("build abandoned (stopping): nothing published, the served marts are unchanged")
            return "stopped"
        except (BuildError, UserError) as exc:
            return self._failed(started_at, why, getattr(exc, "stage", "build"), _one_line(str(exc)))
        except Exception as exc:  # a bug must not end the builder: report it, keep serving the last marts
            return self._failed(started_at, why, "unexpected", plain(f"{type(exc).__name__}: {exc}"))
        finally:
            lock.release()
        seconds = time.monotonic() - self._build_started
        self.last_duration_s = seconds
        self.counts.ok += 1
        self._measure("ok", seconds, result.alerts)
        p = result.published
        staleness = time.monotonic() - pending_since
        t = result.timings
        self.last_build = {
            "ok": True,
            "started_at": started_at,
            "finished_at": _now(),
            "seconds": round(seconds, 3),
            "reason": why,
            "version": p.version,
            "staleness_s": round(staleness, 3),
            "timings": t,
            "plan": result.plan.reason if result.plan is not None else None,
        }
        self.log(
            f"published version {p.version} in {seconds:.1f} s ({why}; dbt {t.get('dbt', 0) + t.get('dbt_alerts', 0):.1f} s, "
            f"checkpoint {t.get('checkpoint', 0):.1f} s, publish {t.get('publish', 0) + t.get('export', 0):.1f} s): "
            f"{len(p.marts)} marts, {sum(p.marts.values()):,} rows; oldest change waited {staleness:.1f} s"
            + (f"; removed versions {', '.join(map(str, p.pruned))}" if p.pruned else "")
        )
        return "ok"

    def _failed(self, started_at: str, why: str, stage: str, message: str) -> str:
        self.counts.failed += 1
        seconds = time.monotonic() - self._build_started
        self._measure("failed", seconds)
        published = self._published()
        self.last_build = {
            "ok": False,
            "started_at": started_at,
            "finished_at": _now(),
            "seconds": round(seconds, 3),
            "reason": why,
            "stage": stage,
            "error": message,
        }
        serving = f"version {published['version']}" if published else "nothing (no build has been published yet)"
        self._failure = f"build FAILED at {stage} after {seconds:.1f} s: {message} -- still serving {serving}"
        return "failed"

    # ------------------------------------------------------------------ what is published, status
    _published_cached: dict[str, Any] | None = None
    _build_started: float = 0.0
    _status_written: float = 0.0
    _failure: str = ""

    def _published(self) -> dict[str, Any] | None:
        from junheng.build.publish import current_manifest

        self._published_cached = current_manifest(self.layout)
        if self.health is not None:
            self.health.published(self._published_cached)
        return self._published_cached

    def _measure(self, result: str, seconds: float, alerts: Any = None) -> None:
        if self.health is not None:
            self.health.measure(result, seconds, alerts)

    def _published_watermark(self) -> Any:
        manifest = self._published()
        return None if manifest is None else manifest.get("landing")

    def _status(self, state: str, **extra: Any) -> None:
        """Write ``serve.json`` (atomically): what the builder does now and what it served last."""
        self._state = state
        self._status_written = time.monotonic()
        published = self._published_cached
        age = None
        if published and published.get("built_at"):
            try:
                age = round(
                    (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(published["built_at"])).total_seconds(), 1
                )
            except ValueError:
                age = None
        document = {
            "pid": os.getpid(),
            "started_at": self._started,
            "updated_at": _now(),
            "state": state,
            "warehouse": str(self.layout.root),
            "max_staleness_s": self.options.max_staleness_s,
            "debounce_s": self.options.debounce_s,
            "published": None
            if not published
            else {
                "version": published.get("version"),
                "built_at": published.get("built_at"),
                "as_of": published.get("as_of"),
                "age_s": age,
            },
            "pending_s": None if self._pending_since is None else round(time.monotonic() - self._pending_since, 1),
            "builds": {"ok": self.counts.ok, "failed": self.counts.failed, "abandoned": self.counts.abandoned},
            "last_build": self.last_build,
            # the warm dbt child: its pid, how many were started (a restart after a crash, a
            # cancel or the memory bound), how many commands it ran
            "dbt": {
                "pid": self.dbt.pid,
                "started": self.dbt.started,
                "recycled": self.dbt.recycled,
                "commands": self.dbt.commands,
            },
            **extra,
        }
        path = self.layout.serve_status
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # the status is for people; never a reason to stop building
            self.log(f"could not write {path}: {exc}")


def _one_line(text: str, limit: int = 400) -> str:
    """A failure in one log line: its first two lines (what failed, and the first thing that did),
    control characters escaped, shortened."""
    from junheng.terminal import plain

    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()][:2]
    out = plain(" / ".join(lines))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _print_log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} junheng serve: {message}", flush=True)


# ------------------------------------------------------------------ command line


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--warehouse",
        default=str(settings.default_warehouse()),
        help="the warehouse whose landing the worker writes (default: $JUNHENG_WAREHOUSE or ./warehouse)",
    )
    parser.add_argument(
        "--max-staleness",
        type=float,
        metavar="SECONDS",
        help="the longest landed data may wait for the marts: a build starts early enough, "
        "given the last build's duration (default: $JUNHENG_MAX_STALENESS or 30)",
    )
    parser.add_argument(
        "--debounce",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="build once the landing has been quiet this long (default 2)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="how often the landing's file names are read (default 0.5)",
    )
    parser.add_argument(
        "--retry",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="after a failed build, try again at the next landing change or after this long, "
        "doubling up to 5 minutes (default 10)",
    )
    parser.add_argument("--as-of", help="judge deadlines on this date, YYYY-MM-DD (default: the day of each build)")
    parser.add_argument(
        "--catalogue", help="rules catalogue name or path (default: $JUNHENG_CATALOGUE or qingdao-2021)"
    )
    parser.add_argument("--keep", type=int, help="published versions kept (default: $JUNHENG_PUBLISHED_KEEP or 3)")
    parser.add_argument("--no-alerts", action="store_true", help="skip the alert stage of each build")
    parser.add_argument("--no-report", action="store_true", help="do not write the report after each build")
    parser.add_argument("--no-data-docs", action="store_true", help="do not update GX's Data Docs at each build")
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics, /healthz and /readyz on this port, 0: off "
        "(default: JUNHENG_METRICS_PORT, off; the address is JUNHENG_METRICS_BIND)",
    )
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from filelock import FileLock, Timeout

    try:
        configured = settings.BuildSettings.from_env()
        metrics_settings = settings.MetricsSettings.from_env()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.metrics_port is None:
        args.metrics_port = metrics_settings.port
    if not 0 <= args.metrics_port <= 65535:
        raise UserError(f"--metrics-port must be between 0 (off) and 65535, got {args.metrics_port}")
    if args.max_staleness is None:
        args.max_staleness = configured.max_staleness_s
    if args.max_staleness <= 0 or args.debounce < 0 or args.poll <= 0 or args.retry <= 0:
        raise UserError("--max-staleness, --poll and --retry must be above 0 and --debounce at least 0")
    if args.keep is not None and args.keep < 1:
        raise UserError("--keep must be at least 1")
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise UserError(f"--as-of {args.as_of!r} is not a date: expected YYYY-MM-DD, e.g. 2026-06-30") from None
    warehouse = Path(args.warehouse).resolve()
    layout = WarehouseLayout(warehouse)
    warehouse.mkdir(parents=True, exist_ok=True)
    guard = FileLock(str(layout.serve_lock))
    try:
        guard.acquire(timeout=0)
    except Timeout:
        raise AnotherServer(
            f"another junheng serve is running on {warehouse} (see {layout.serve_status}); one builder per warehouse"
        ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        options = ServeOptions(
            warehouse=warehouse,
            max_staleness_s=args.max_staleness,
            debounce_s=args.debounce,
            poll_s=args.poll,
            retry_s=args.retry,
            as_of=as_of,
            catalogue=args.catalogue,
            keep=args.keep,
            alerts=not args.no_alerts,
            report=not args.no_report,
            data_docs=not args.no_data_docs,
        )
        builder = Builder(options)
        server = None
        if args.metrics_port:
            from junheng.serve_health import serve_metrics

            server = serve_metrics(builder, args.metrics_port, metrics_settings.bind, options.catalogue)
        try:
            return builder.run(stop)
        finally:
            if server is not None:
                server.close()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        guard.release()


def main(argv: list[str] | None = None) -> int:
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="junheng serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
    )
    return cmd_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
