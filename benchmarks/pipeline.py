"""Pipeline throughput: the Faust worker against a bare aiokafka consumer, same topic, same broker,
same run.

    python -m benchmarks.pipeline [--quick] [--schools 5000] [--json out.json]

The synthetic city (5,000 schools, 2021-2025: ~109,000 lines, 1 % each bad, duplicate and stale)
is produced once into a fresh 4-partition topic. Then, one after the other, each reader consumes
all of it from the earliest offset in its own consumer group:

* ``bare``       -- an aiokafka consumer that only decodes each value (the transport's ceiling);
* ``bare+json``  -- the same, plus ``json.loads`` of every value;
* ``worker``     -- ``python -m junheng.worker`` (the real worker, a subprocess, production batch
  settings, Great Expectations on as in production);
* ``worker --no-gx`` -- the same without the Great Expectations suites;
* on request (``--with-gx-in-process``, ``--with-plain-faust-delivery``) the worker with one
  default undone, to measure what it buys in the same run (VARIANT_ROWS).

Why the bare consumer: the machine and the broker are shared and noisy, so an absolute events/s
means little alone; the ratio pipeline/bare within one run says how much of the transport's
speed the processing keeps.

Rates are steady-state: events after the first fetch (bare) or the first batch (worker) divided by
the time from then to the last event, so the worker's start-up (imports, GX context, group join,
table recovery) is not counted -- it is reported separately as ``startup_s``. The worker's times
come from its own counts file (``first_batch_done_at`` / ``last_batch_done_at``), not from polling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
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

TARGET_EVENTS_PER_S = 5_000
TARGET_SHARE_OF_BARE = 0.30
FULL_SCHOOLS = 5000
QUICK_SCHOOLS = 300


async def _bare(servers: str, topic: str, group: str, total: int, parse: bool, timeout: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    n = first_n = 0
    first_at = last_at = first_cpu = last_cpu = 0.0
    ok = 0
    deadline = time.monotonic() + timeout
    try:
        while n < total and time.monotonic() < deadline:
            # at most 1,000 a call (aiokafka still prefetches whole fetches): the rate is measured
            # from the end of the first call, which must not already hold the whole topic
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for msgs in batches.values():
                for m in msgs:
                    text = m.value.decode("utf-8", errors="replace")
                    if parse:
                        try:
                            json.loads(text)
                            ok += 1
                        except ValueError:
                            pass
                n += len(msgs)
            if batches:
                last_at, last_cpu = time.perf_counter(), time.process_time()
                if not first_at:
                    first_at, first_n, first_cpu = last_at, n, last_cpu
    finally:
        await consumer.stop()
    span, cpu = last_at - first_at, last_cpu - first_cpu
    return {
        "events": n,
        "events_per_s": round((n - first_n) / span) if span > 0 else None,
        "events_per_cpu_s": round((n - first_n) / cpu) if cpu > 0 else None,
        "measured_events": n - first_n,
        "measured_s": round(span, 3),
        "cpu_s": round(cpu, 3),
        **({"json_ok": ok} if parse else {}),
    }


def bare_consumer(
    servers: str, topic: str, group: str, total: int, parse: bool = False, timeout: float = 300.0
) -> dict[str, Any]:
    """A plain aiokafka consumer reads the whole topic: the transport's own ceiling."""
    return asyncio.run(_bare(servers, topic, group, total, parse, timeout))


def worker_run(
    servers: str,
    prefix: str,
    workdir: Path,
    total: int,
    *,
    gx: bool,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batch_seconds: float = DEFAULT_BATCH_SECONDS,
    timeout: float = 600.0,
    extra_env: dict[str, str] | None = None,
    app_id: str | None = None,
    extra_args: Sequence[str] = (),
) -> dict[str, Any]:
    """The real worker, own consumer group (app id), processes the whole topic."""
    topic = f"{prefix}.events"
    ends = end_offsets(servers, topic)
    app_id = app_id or f"{prefix}-w{'gx' if gx else 'nogx'}"
    started = time.time()
    with Worker(
        servers,
        prefix,
        workdir,
        app_id=app_id,
        batch_size=batch_size,
        batch_seconds=batch_seconds,
        gx=gx,
        extra_env=extra_env,
        extra_args=extra_args,
    ) as worker:
        c = worker.wait_for(lambda c: caught_up(c, topic, ends), timeout, "the worker to catch up", poll_s=0.2)
    span = (c["last_batch_done_at"] or 0.0) - (c["first_batch_done_at"] or 0.0)
    measured = c["read"] - c["first_batch_read"]
    cpu = float(c.get("last_batch_cpu_s") or 0.0) - float(c.get("first_batch_cpu_s") or 0.0)
    gx_cpu = float(c.get("last_batch_gx_cpu_s") or 0.0) - float(c.get("first_batch_gx_cpu_s") or 0.0)
    process_s = float(c.get("process_s") or 0.0)
    return {
        "events": c["read"],
        "events_per_s": round(measured / span) if span > 0 else None,
        "measured_events": measured,
        "measured_s": round(span, 3),
        # CPU seconds of the worker process over the same window: the figure contention on this
        # shared machine distorts least (wall-clock events/s fall when other jobs take the cores)
        # ... plus its GX child's (the suites run there, on the other core, by default)
        "cpu_s": round(cpu, 3),
        "gx_child_cpu_s": round(gx_cpu, 3),
        "events_per_cpu_s": round(measured / (cpu + gx_cpu)) if cpu + gx_cpu > 0 else None,
        "gx_mode": c.get("gx"),
        "applied": c["applied"],
        "duplicate": c["duplicate"],
        "stale": c["stale"],
        "dead_lettered": c["dead_lettered"],
        "balanced": c["balanced"],
        "batches": c["batches"],
        "startup_s": round((c["first_batch_done_at"] or started) - started, 2),
        # where a batch's time goes (summed over all batches); the rest of the wall time is Faust's
        # stream machinery (fetch, per-event iteration, acks)
        "timing_s": c.get("timing_s", {}),
        "process_s": process_s,
        "gx": gx,
        "batch_size": batch_size,
        "batch_seconds": batch_seconds,
        "engine": c.get("engine"),
    }


#: Optional rows: the production worker (GX on) with one option changed, to measure what the
#: option's default buys in the same run -- name -> (worker flag, app id suffix).
VARIANT_ROWS: dict[str, tuple[str, str]] = {
    "gx-in-process": ("--gx-in-process", "wgxin"),  # the suites in the worker, as before the child
    "plain-faust-delivery": ("--plain-faust-delivery", "wplain"),  # Faust's own per-record hand-over
    "metrics": ("--metrics-port", "wmetrics"),  # serving Prometheus metrics (a free port)
}


def run(
    quick: bool = False,
    schools: int | None = None,
    servers: str | None = None,
    gx_rows: tuple[bool, ...] = (True, False),
    json_row: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    variants: Sequence[str] = (),
    batch_seconds: float = DEFAULT_BATCH_SECONDS,
) -> dict[str, Any]:
    """Produce the city once, read it with every reader, return the figures (topics deleted)."""
    servers = require_broker(servers)
    schools = schools or (QUICK_SCHOOLS if quick else FULL_SCHOOLS)
    prefix = unique_prefix("pipe")
    settings = settings_for(servers, prefix)
    lines, manifest = city_lines(schools)
    load_before = loadavg()
    t = time.perf_counter()
    try:
        produced = load_topic(settings, lines)
        produce_s = time.perf_counter() - t
        topic = settings.topic("events")
        rows: dict[str, Any] = {"bare": bare_consumer(servers, topic, f"{prefix}-bare", len(lines))}
        if json_row:
            rows["bare+json"] = bare_consumer(servers, topic, f"{prefix}-bare-json", len(lines), parse=True)
        with tempfile.TemporaryDirectory(prefix="junheng-bench-") as tmp:
            for gx in gx_rows:
                name = "worker" if gx else "worker --no-gx"
                rows[name] = worker_run(
                    servers,
                    prefix,
                    Path(tmp) / name.replace(" ", ""),
                    len(lines),
                    gx=gx,
                    batch_size=batch_size,
                    batch_seconds=batch_seconds,
                )
            for variant in variants:
                flag, suffix = VARIANT_ROWS[variant]
                args = [flag, str(_free_port())] if flag == "--metrics-port" else [flag]
                rows[f"worker {flag}"] = worker_run(
                    servers,
                    prefix,
                    Path(tmp) / f"worker-{variant}",
                    len(lines),
                    gx=True,
                    batch_size=batch_size,
                    batch_seconds=batch_seconds,
                    app_id=f"{prefix}-{suffix}",
                    extra_args=args,
                )
    finally:
        delete_topics(servers, prefix)
    bare = rows["bare"]["events_per_s"] or 0
    for r in rows.values():
        r["share_of_bare"] = round(r["events_per_s"] / bare, 3) if bare and r.get("events_per_s") else None
    main_row = rows.get("worker") or rows.get("worker --no-gx") or {}
    return {
        "benchmark": "pipeline",
        "schools": schools,
        "lines": len(lines),
        "valid_unique": manifest["valid_unique"],
        "partitions": 4,
        "produce_events_per_s": round(produced["sent"] / produce_s),
        "rows": rows,
        "pipeline_events_per_s": main_row.get("events_per_s"),
        "pipeline_share_of_bare": main_row.get("share_of_bare"),
        "targets": {"pipeline_events_per_s": TARGET_EVENTS_PER_S, "pipeline_share_of_bare": TARGET_SHARE_OF_BARE},
        "load_average": {"before": load_before, "after": loadavg()},
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def print_table(figures: dict[str, Any]) -> None:
    print(
        f"pipeline: {figures['lines']:,} lines ({figures['schools']} schools), 4 partitions; "
        f"load {figures['load_average']['before']} -> {figures['load_average']['after']}"
    )
    print(f"  {'reader':<24} {'events/s':>9} {'of bare':>8} {'ev/cpu-s':>9} {'events':>8}  notes")
    for name, r in figures["rows"].items():
        share = f"{r['share_of_bare']:.0%}" if r.get("share_of_bare") else "-"
        notes = ""
        if "timing_s" in r:
            t = r["timing_s"]
            notes = (
                f"start-up {r['startup_s']} s; in batches {r['process_s']:.1f} of {r['measured_s']:.1f} s "
                f"(core {t.get('core_s', 0):.1f}, land {t.get('land_s', 0):.1f}, send {t.get('send_s', 0):.1f}, "
                f"table {t.get('table_s', 0):.1f}, GX wait {t.get('gx_wait_s', 0):.1f})"
            )
        print(
            f"  {name:<24} {r['events_per_s'] or 0:>9,} {share:>8} {r.get('events_per_cpu_s') or 0:>9,} "
            f"{r['events']:>8,}  {notes}"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SCHOOLS} schools instead of {FULL_SCHOOLS}")
    parser.add_argument("--schools", type=int)
    parser.add_argument("--no-gx-only", action="store_true", help="only the --no-gx worker row")
    for variant, (flag, _) in VARIANT_ROWS.items():
        parser.add_argument(
            f"--with-{variant}",
            action="append_const",
            const=variant,
            dest="variants",
            help=f"add a row with the worker run {flag}",
        )
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=DEFAULT_BATCH_SECONDS,
        help=f"the workers' batch window ({DEFAULT_BATCH_SECONDS})",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(
        args.quick,
        args.schools,
        gx_rows=(False,) if args.no_gx_only else (True, False),
        variants=args.variants or (),
        batch_seconds=args.batch_seconds,
    )
    print_table(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
