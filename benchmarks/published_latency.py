"""Steady-load latency to the published marts: from producing an event to the first published
version of the marts (``<warehouse>/junheng.duckdb``) that shows it.

    python -m benchmarks.published_latency [--quick] [--rate 500] [--seconds 60] [--schools 1000]
        [--max-staleness 30] [--debounce 2] [--flip-every S] [--no-data-docs] [--json out.json]

Issue #11: "on Kafka at 500 events/s of steady corrections, p50/p99 of event → published mart
row"; target p99 < 15 s at city scale (the 1,000-school synthetic city of benchmarks/scale.py's
``city``: 10 districts × 2021-2025 = 50 district-years).

The pieces are benchmarks/latency.py's: a fresh topic prefix, the city produced and processed by
the real worker (``python -m junheng.worker``, GX on) until it is caught up, then a steady
``--rate`` of events for ``--seconds``: background corrections (school facts re-sent with a
higher ``seq``) and probes (a district's ``district.statistics`` for one year with the
satisfaction rate flipped across the SR threshold). Beside the worker runs ``junheng serve`` on
the worker's warehouse (production defaults: alerts, report and Data Docs on; ``--as-of`` fixed
so that midnight does not add a build), started once every district-year has been set to the low
value, so its first (full) build publishes that state before measuring starts.

What is measured: a thread of this process polls the published version (the ``published/current``
link, a readlink every 0.1 s); on each new version it opens that version's DuckDB read-only and
reads, for every district-year, whether ``mart_district_attainment.failed_items`` contains ``SR``.
A probe's latency = the moment that version was seen − the moment just before the probe was handed
to the producer (both this process's clock). It is matched to the oldest unanswered probe of its
district-year, and only when the version shows that probe's value.

Why probes are sparse (``--flip-every``, default max(``--seconds``, 3 × max(max-staleness, 20 s))):
a build reads the landing as it stands when it starts, so two flips of one district-year between two
builds cancel out and the first is never answered. At 500 events/s the landing changes every worker
batch (0.2 s), so the debounce never fires: builds start on junheng serve's stream rule (a debounce
after the last build: junheng/serve_schedule.py) or, before it, on the staleness bound. Every district-year is touched by the steady corrections,
so each build rebuilds every district: 20-90 s per city build on this shared machine (2026-12-05,
load 4-12). Each district-year is therefore flipped at most once per ``--flip-every`` seconds --
by default at most once in the whole window, so no flip can cancel another whatever the build
interval turns out to be; probes rotate over all district-years (50 at city scale: one probe every
1.2 s in a 60 s window). ``min_flip_gap_s`` (the closest two flips of one district-year) against
``max_version_gap_s`` (the longest wait between two published versions) says whether a run kept
to that. The background corrections fill the rest of the rate, and keep running after the window
until every probe is answered (or ``--drain`` seconds pass), so the last probes are not built by a
debounce on a quiet landing.

Reported: p50/p90/p99/max, probes resolved/unresolved, consistency (a probe answered by a version
that was already published when it was sent would be a matching error: counted, expected 0), the
builds published during the window with their durations and staleness (from ``serve.json``), the
worker's counts, the machine (benchmarks/machine.py) and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.kafka_util import (
    DEFAULT_BATCH_SECONDS,
    DEFAULT_BATCH_SIZE,
    Worker,
    caught_up,
    city_lines,
    delete_topics,
    end_offsets,
    load_topic,
    loadavg,
    require_broker,
    settings_for,
    unique_prefix,
)
from benchmarks.latency import HIGH, LOW, _event, _r, _templates, percentile
from benchmarks.machine import describe
from benchmarks.published_watch import AS_OF, Key, Serve, Watcher, wait_serving

TARGET_P99_S = 15.0


def default_flip_every(max_staleness: float, seconds: float) -> float:
    """Seconds between two flips of one district-year: 3 × the longest expected build interval, and
    at least the window (each district-year flipped once), as builds can be far slower than expected."""
    return max(seconds, 3.0 * max(max_staleness, 20.0))


async def _load(
    servers: str,
    events_topic: str,
    stats: dict[Key, dict[str, Any]],
    school: list[dict[str, Any]],
    watcher: Watcher,
    *,
    rate: float,
    seconds: float,
    flip_every: float,
    drain_s: float,
) -> dict[str, Any]:
    """The steady load: `rate` events/s, a probe every flip_every / len(stats) s during `seconds`,
    background corrections the rest of the time and until every probe is answered."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=0)
    await producer.start()
    try:
        pairs = sorted(stats)
        seq: dict[Any, int] = defaultdict(lambda: 1000)
        state = dict.fromkeys(pairs, LOW)  # the warm-up's value
        probe_every = flip_every / len(pairs)
        sent = probes = 0
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= seconds and (watcher.unresolved() == 0 or elapsed >= seconds + drain_s):
                break
            due = int(elapsed * rate) + 1
            while sent < due:
                if elapsed < seconds and probes < int(elapsed / probe_every) + 1:
                    key = pairs[probes % len(pairs)]
                    state[key] = value = HIGH if state[key] == LOW else LOW
                    seq[key] += 1
                    e = _event(stats[key], seq[key], dict(stats[key]["payload"], satisfaction_pct=value))
                    watcher.probe(key, value)
                    probes += 1
                else:
                    tpl = school[sent % len(school)]
                    fk = (tpl["event_type"], tpl.get("school_id"), tpl["year"])
                    seq[fk] += 1
                    e = _event(tpl, seq[fk])
                await producer.send(
                    events_topic, json.dumps(e, ensure_ascii=False).encode(), key=e["district_code"].encode()
                )
                sent += 1
            await asyncio.sleep(0.005)
        await producer.flush()
        wall = time.monotonic() - start
        return {"sent": sent, "sent_per_s": round(sent / wall), "probes": probes, "wall_s": round(wall, 1)}
    finally:
        await producer.stop()


def run_one(
    servers: str,
    *,
    schools: int,
    rate: float,
    seconds: float,
    max_staleness: float,
    debounce: float,
    flip_every: float | None = None,
    drain_s: float | None = None,
    data_docs: bool = True,
    gx: bool = True,
) -> dict[str, Any]:
    """One serve setting: fresh topics, the city caught up and published, then the steady load."""
    flip_every = flip_every or default_flip_every(max_staleness, seconds)
    drain_s = drain_s if drain_s is not None else 2 * max_staleness + 120
    prefix = unique_prefix("pub")
    settings = settings_for(servers, prefix)
    lines, _ = city_lines(schools)
    stats, school = _templates(city_lines(schools, noise=0.0)[0])
    load_before = loadavg()
    try:
        load_topic(settings, lines)
        events = settings.topic("events")
        ends = end_offsets(servers, events)
        with tempfile.TemporaryDirectory(prefix="junheng-bench-") as tmp:
            with Worker(servers, prefix, Path(tmp), app_id=f"{prefix}-worker", gx=gx) as worker:
                worker.wait_for(lambda c: caught_up(c, events, ends), 900, "the worker to catch up with the city", 0.2)
                warm = asyncio.run(_warm_up(servers, events, stats))
                now = end_offsets(servers, events)
                worker.wait_for(lambda c: caught_up(c, events, now), 300, "the worker to land the warm-up", 0.2)
                warehouse = Path(tmp) / "warehouse"
                serve = Serve(
                    warehouse, Path(tmp) / "serve.log", max_staleness=max_staleness, debounce=debounce,
                    data_docs=data_docs,
                )  # fmt: skip
                watcher = Watcher(warehouse, serve)
                watcher.start()
                try:
                    wait_serving(
                        lambda: bool(watcher.visible) and all(watcher.visible.get(k) == LOW for k in stats),
                        900,
                        "the first published version with every district-year at the warm-up's value",
                        serve,
                    )
                    first = watcher.version
                    before = worker.counts() or {}
                    window_start = time.time()
                    m = asyncio.run(
                        _load(
                            servers,
                            events,
                            stats,
                            school,
                            watcher,
                            rate=rate,
                            seconds=seconds,
                            flip_every=flip_every,
                            drain_s=drain_s,
                        )  # fmt: skip
                    )
                    window_end = time.time()
                    counts = worker.counts() or {}
                    time.sleep(1.0)  # serve.json of the last build
                finally:
                    watcher.stop.set()
                    watcher.join(10)
                    status = serve.status() or {}
                    serve_rc = serve.stop()
    finally:
        delete_topics(servers, prefix)
    lat = [r["latency_s"] for r in watcher.resolved]
    p = {q: percentile(lat, q) for q in (50, 90, 99)}
    new_versions = [v for v in watcher.versions if first is not None and v["version"] > first]
    seen = [v for v in watcher.versions if first is not None and v["version"] >= first]
    builds = [watcher.builds[v["version"]] for v in new_versions if v["version"] in watcher.builds]
    durations = [b["seconds"] for b in builds]
    return {
        "schools": schools,
        "district_years": len(stats),
        "rate_per_s": rate,
        "seconds": seconds,
        "max_staleness_s": max_staleness,
        "debounce_s": debounce,
        "data_docs": data_docs,
        "gx": gx,
        "flip_every_s": flip_every,
        "warm_up_sent": warm,
        **m,
        "resolved": len(lat),
        "unresolved": watcher.unresolved(),
        "answered_by_older_version": sum(
            1 for r in watcher.resolved if r["version_at_send"] is not None and r["version"] <= r["version_at_send"]
        ),
        "p50_s": _r(p[50]),
        "p90_s": _r(p[90]),
        "p99_s": _r(p[99]),
        "max_s": _r(max(lat) if lat else None),
        "min_s": _r(min(lat) if lat else None),
        "mean_s": _r(sum(lat) / len(lat) if lat else None),
        "min_flip_gap_s": _r(watcher.min_flip_gap()),
        "max_version_gap_s": _r(
            max((b["seen"] - a["seen"] for a, b in zip(seen, seen[1:], strict=False)), default=None)
        ),
        "first_version": first,
        "versions_published": len(new_versions),
        "versions_in_window": sum(1 for v in new_versions if window_start <= v["seen"] <= window_end),
        "version_read_s_max": max((v["read_s"] for v in new_versions), default=None),
        "read_errors": watcher.read_errors,
        "build_seconds": durations,
        "build_p50_s": _r(percentile(durations, 50)),
        "build_max_s": _r(max(durations) if durations else None),
        "build_staleness_s": [b.get("staleness_s") for b in builds],
        "build_timings_s": [b.get("timings") for b in builds],
        "build_plans": [b.get("plan") for b in builds],
        "builds": status.get("builds"),
        "serve_exit": serve_rc,
        "worker_balanced": counts.get("balanced"),
        "worker_dead_lettered": counts.get("dead_lettered"),
        "worker_batches": counts.get("batches", 0) - before.get("batches", 0),
        "probe_latencies_s": [round(x, 3) for x in lat],
        "load_average": {"before": load_before, "after": loadavg()},
    }


async def _warm_up(servers: str, events_topic: str, stats: dict[Key, dict[str, Any]]) -> int:
    """Every district-year to LOW first (seq 1000, below the load's), so each probe is a real flip."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=0)
    await producer.start()
    try:
        for key in sorted(stats):
            tpl = stats[key]
            e = _event(tpl, 1000, dict(tpl["payload"], satisfaction_pct=LOW))
            await producer.send(
                events_topic, json.dumps(e, ensure_ascii=False).encode(), key=e["district_code"].encode()
            )
        await producer.flush()
        return len(stats)
    finally:
        await producer.stop()


def run(
    quick: bool = False,
    servers: str | None = None,
    max_staleness: Sequence[float] = (30.0,),
    debounce: float = 2.0,
    rate: float | None = None,
    seconds: float | None = None,
    schools: int | None = None,
    flip_every: float | None = None,
    drain_s: float | None = None,
    data_docs: bool = True,
    gx: bool = True,
) -> dict[str, Any]:
    """Every --max-staleness setting in turn, each on a fresh city; the first is the default."""
    servers = require_broker(servers)
    rows = [
        run_one(
            servers,
            schools=schools or (100 if quick else 1000),
            rate=rate or (300 if quick else 500),
            seconds=seconds or (20 if quick else 60),
            max_staleness=s,
            debounce=debounce,
            flip_every=flip_every,
            drain_s=drain_s,
            data_docs=data_docs,
            gx=gx,
        )
        for s in max_staleness
    ]
    return {
        "benchmark": "published_latency",
        "machine": describe(),
        "worker": {"batch_size": DEFAULT_BATCH_SIZE, "batch_seconds": DEFAULT_BATCH_SECONDS},
        "as_of": AS_OF,
        "rows": rows,
        "target_p99_s": TARGET_P99_S,
        "default_p99_s": rows[0]["p99_s"],
    }


def print_table(figures: dict[str, Any]) -> None:
    print("published latency: produce -> first published version showing it (s)")
    print(
        f"  {'staleness':>9} {'rate/s':>7} {'probes':>6} {'unres':>5} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>6}"
        f" {'builds':>6} {'build p50':>9}  load"
    )
    for r in figures["rows"]:
        print(
            f"  {r['max_staleness_s']:>9g} {r['sent_per_s']:>7} {r['resolved']:>6} {r['unresolved']:>5} "
            f"{r['p50_s'] or 0:>6.2f} {r['p90_s'] or 0:>6.2f} {r['p99_s'] or 0:>6.2f} {r['max_s'] or 0:>6.2f} "
            f"{r['versions_published']:>6} {r['build_p50_s'] or 0:>9.2f}  {r['load_average']['before']}"
            f" -> {r['load_average']['after']}"
        )
    print(f"  target p99 < {figures['target_p99_s']:g} s")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 schools, 300 events/s, 20 s")
    parser.add_argument("--rate", type=float, help="events/s produced (500; quick 300)")
    parser.add_argument("--seconds", type=float, help="seconds probes are sent (60; quick 20)")
    parser.add_argument("--schools", type=int, help="city size (1000, the city scale; quick 100)")
    parser.add_argument(
        "--max-staleness",
        type=float,
        nargs="+",
        default=[30.0],
        help="junheng serve --max-staleness settings, each on a fresh city (30, the default)",
    )
    parser.add_argument("--debounce", type=float, default=2.0, help="junheng serve --debounce (2)")
    parser.add_argument("--flip-every", type=float, help="seconds between two flips of one district-year")
    parser.add_argument("--drain", type=float, help="seconds to wait for the last probes (2 × staleness + 120)")
    parser.add_argument("--no-data-docs", action="store_true", help="junheng serve --no-data-docs")
    parser.add_argument("--no-gx", action="store_true", help="the worker without Great Expectations")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(
        args.quick,
        max_staleness=args.max_staleness,
        debounce=args.debounce,
        rate=args.rate,
        seconds=args.seconds,
        schools=args.schools,
        flip_every=args.flip_every,
        drain_s=args.drain,
        data_docs=not args.no_data_docs,
        gx=not args.no_gx,
    )
    print_table(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
