"""All benchmarks in one run: one table (figure, value, target, met?) and one JSON file.

    python -m benchmarks [--quick] [--json out.json] [--only engine,pipeline,latency,published_latency,freshness,...]

* engine   -- rules-engine throughput (benchmarks/engine.py), no broker needed;
* pipeline -- the Faust worker's events/s against a bare aiokafka consumer (benchmarks/pipeline.py);
* latency  -- produce -> district-status message, p50/p99 (benchmarks/latency.py);
* published_latency -- produce -> first published marts version showing it, under a steady load,
  with ``junheng serve`` beside the worker (benchmarks/published_latency.py);
* freshness -- a one-district correction's landing to the version ``junheng serve`` published with
  it, at city scale (benchmarks/freshness.py ``--serve 0.5``; national scale: run it by hand);
* scale    -- national-scale dbt build and worker peak RSS (benchmarks/scale.py), if present;
* stale_flood -- 100,000 stale versions of one fact: linear time, bounded state (benchmarks/stale_flood.py).

pipeline, latency and published_latency need the local broker (``bash infra/kafka/kafka.sh start``; ``make bench``
starts it). The JSON goes to ``benchmarks/results/<date>-<host>[-quick].json`` unless ``--json``
says otherwise: small files, kept in git, so figures can be compared over time -- always with the
machine description and load average recorded beside them, because this is a shared, noisy machine.
A benchmark that fails is reported as such and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.machine import describe

ALL = ("engine", "pipeline", "latency", "published_latency", "freshness", "scale", "stale_flood")
RESULTS = Path(__file__).resolve().parent / "results"

Row = tuple[str, Any, str, bool | None]  # figure, value, target, met (None: no target)


def run_engine(quick: bool) -> dict[str, Any]:
    from benchmarks import engine

    argv = ["--repeat", "1", "--schools", "300", "--engines", "pure"] if quick else []
    return engine.main(argv)


def run_pipeline(quick: bool) -> dict[str, Any]:
    from benchmarks import pipeline

    figures = pipeline.run(quick)
    pipeline.print_table(figures)
    return figures


def run_latency(quick: bool) -> dict[str, Any]:
    from benchmarks import latency

    figures = latency.run(quick)
    latency.print_table(figures)
    return figures


def run_published_latency(quick: bool) -> dict[str, Any]:
    from benchmarks import published_latency

    figures = published_latency.run(quick)
    published_latency.print_table(figures)
    return figures


def run_freshness(quick: bool) -> dict[str, Any]:
    import tempfile

    from benchmarks import freshness
    from benchmarks.scale import SCALES

    with tempfile.TemporaryDirectory(prefix="junheng-freshness-") as workdir:
        figures = freshness.run(
            SCALES["tiny" if quick else "city"], Path(workdir), corrections=1 if quick else 3, serve_debounce_s=0.5
        )
    print(json.dumps(figures.get("correction_median_s"), indent=1))
    return figures


def run_scale(quick: bool) -> dict[str, Any]:
    try:
        from benchmarks import scale
    except ImportError as exc:
        raise RuntimeError(f"benchmarks/scale.py is not available ({exc})") from exc
    figures: dict[str, Any] = scale.run(quick)
    if hasattr(scale, "print_figures"):
        scale.print_figures(figures)
    return figures


def run_stale_flood(quick: bool) -> dict[str, Any]:
    from benchmarks import stale_flood

    figures = stale_flood.run(10_000 if quick else 100_000)
    stale_flood.print_figures(figures)
    return figures


RUNNERS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "engine": run_engine,
    "pipeline": run_pipeline,
    "latency": run_latency,
    "published_latency": run_published_latency,
    "freshness": run_freshness,
    "scale": run_scale,
    "stale_flood": run_stale_flood,
}


# ------------------------------------------------------------------------------ the table
def engine_rows(f: dict[str, Any]) -> list[Row]:
    value = f.get("school_events_per_s_as_the_drivers_run")
    target = f.get("target_school_events_per_s", 50_000)
    return [
        (
            f"engine: school events/s ({f.get('drivers_engine')}, batches of {f.get('drivers_batch')})",
            value,
            f">= {target:,}",
            None if value is None else value >= target,
        )
    ]


def pipeline_rows(f: dict[str, Any]) -> list[Row]:
    t = f["targets"]
    rows: list[Row] = []
    bare = f["rows"]["bare"]
    rows.append(("pipeline: bare aiokafka consumer, events/s", bare["events_per_s"], "", None))
    for name in ("worker", "worker --no-gx"):
        r = f["rows"].get(name)
        if r is None:
            continue
        rate, share = r["events_per_s"], r["share_of_bare"]
        rows.append(
            (
                f"pipeline: {name}, events/s",
                rate,
                f">= {t['pipeline_events_per_s']:,}",
                None if rate is None else rate >= t["pipeline_events_per_s"],
            )
        )
        rows.append(
            (
                f"pipeline: {name}, share of bare",
                share,
                f">= {t['pipeline_share_of_bare']:.0%}",
                None if share is None else share >= t["pipeline_share_of_bare"],
            )
        )
        rows.append((f"pipeline: {name}, events per worker CPU-second", r.get("events_per_cpu_s"), "", None))
    return rows


def latency_rows(f: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    target = f["target_p99_s"]
    for r in f["rows"]:
        setting = f"batch {r['batch_size']}/{r['batch_seconds']} s, {r['sent_per_s']}/s"
        rows.append((f"latency p50, s ({setting})", r["p50_s"], "", None))
        rows.append(
            (
                f"latency p99, s ({setting})",
                r["p99_s"],
                f"< {target}",
                None if r["p99_s"] is None else r["p99_s"] < target and r["lost"] == 0,
            )
        )
    return rows


def published_latency_rows(f: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    target = f["target_p99_s"]
    for r in f["rows"]:
        setting = f"serve --max-staleness {r['max_staleness_s']:g}, {r['sent_per_s']}/s"
        rows.append((f"event -> published p50, s ({setting})", r["p50_s"], "", None))
        rows.append(
            (
                f"event -> published p99, s ({setting})",
                r["p99_s"],
                f"< {target:g}",
                None if r["p99_s"] is None else r["p99_s"] < target and r["unresolved"] == 0,
            )
        )
    return rows


def freshness_rows(f: dict[str, Any]) -> list[Row]:
    from benchmarks.freshness import TARGETS_S

    name = f["workload"]["name"]
    median = f["correction_median_s"]
    target = TARGETS_S["city_correction"]
    return [
        (f"freshness {name}: full first build (junheng serve), s", f["full_build"]["total_s"], "", None),
        (
            f"freshness {name}: correction -> published (serve), s",
            median["total"],
            f"< {target:g} (city)",
            median["total"] < target if name == "city" else None,
        ),
        (f"freshness {name}: its dbt (warm), s", median.get("dbt"), "", None),
    ]


def scale_rows(f: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, s in f.get("scales", {}).items():
        b = s.get("build")
        if b:
            rows.append((f"scale {name}: dbt build, s", b.get("dbt_s"), "target in scale.py", b.get("dbt_target_met")))
        w = s.get("worker")
        if w and "skipped" not in w:
            rows.append(
                (f"scale {name}: worker peak RSS, MiB", w.get("peak_rss_mib"), "< 1024", w.get("rss_target_met"))
            )
        e = s.get("embedded")
        if e:
            rows.append((f"scale {name}: embedded peak RSS, MiB", e.get("peak_rss_mib"), "", None))
    return rows


def stale_flood_rows(f: dict[str, Any]) -> list[Row]:
    p = f["first_pass"]
    return [
        (f"stale flood: {f['stale_versions']:,} versions of one fact, CPU-s", p["cpu_s"], "", None),
        (
            "stale flood: last tenth / first tenth, time",
            p["last_over_first_time"],
            "< 2 (linear)",
            p["last_over_first_time"] < 2,
        ),
        (
            "stale flood: seen ids kept for the fact",
            f["seen_ids_kept_for_the_fact"],
            f"<= {f['seen_window']}",
            f["seen_ids_kept_for_the_fact"] <= f["seen_window"],
        ),
    ]


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "engine": engine_rows,
    "pipeline": pipeline_rows,
    "latency": latency_rows,
    "published_latency": published_latency_rows,
    "freshness": freshness_rows,
    "scale": scale_rows,
    "stale_flood": stale_flood_rows,
}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if v < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "-" if v is None else str(v)


def print_summary(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, f in results["benchmarks"].items():
        if "error" in f:
            rows.append((f"{name}: FAILED -- {f['error'].splitlines()[-1][:80]}", None, "", False))
            continue
        try:
            rows += ROWS[name](f)
        except (KeyError, TypeError) as exc:
            rows.append((f"{name}: figures incomplete ({exc!r})", None, "", False))
    width = max(len(r[0]) for r in rows) if rows else 10
    print()
    print(f"{'figure':<{width}}  {'value':>10}  {'target':>18}  met?")
    for label, value, target, met in rows:
        print(f"{label:<{width}}  {_fmt(value):>10}  {target:>18}  {'' if met is None else ('yes' if met else 'NO')}")
    m = results["machine"]
    print(
        f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['platform']}; "
        f"load average {results['load_average']['start']} -> {results['load_average']['end']}"
    )
    return rows


def default_json_path(quick: bool) -> Path:
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname().split(".")[0]) or "host"
    return RESULTS / f"{time.strftime('%Y-%m-%d')}-{host}{'-quick' if quick else ''}.json"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the benchmarks run, not speed")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--json", help="write the figures here (default benchmarks/results/<date>-<host>.json)")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in only if n not in RUNNERS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {','.join(ALL)}")

    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "machine": describe(),
        "load_average": {"start": [round(x, 2) for x in os.getloadavg()]},
        "benchmarks": {},
    }
    for name in only:
        print(f"\n=== {name}", flush=True)
        start = time.monotonic()
        try:
            figures = RUNNERS[name](args.quick)
        except Exception:
            figures = {"error": traceback.format_exc()}
            print(figures["error"])
        figures["elapsed_s"] = round(time.monotonic() - start, 1)
        results["benchmarks"][name] = figures
    results["load_average"]["end"] = [round(x, 2) for x in os.getloadavg()]
    rows = print_summary(results)
    results["summary"] = [{"figure": r[0], "value": r[1], "target": r[2], "met": r[3]} for r in rows]
    out = Path(args.json) if args.json else default_json_path(args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"figures written to {out}")
    return results


if __name__ == "__main__":
    main()
