"""Rules-engine throughput: a synthetic city through the incremental district states, against
a full per-event recompute of the district measured in the same run.

    python -m benchmarks.engine [--schools 1000] [--batch 500] [--json out.json] [--compiled]

Prints school events per second (one core) for per-event apply() and for micro-batches
(apply_batch, as the stream and the embedded driver feed it), and the speed-up over
recomputing the district from scratch after every event. With --compiled it also runs the
same benchmark against the mypyc-compiled engine (scripts/compile-rules.sh builds it into
build/compiled) in the same session, and prints both side by side.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections import defaultdict
from typing import Any, Mapping

from benchmarks.machine import describe, pin_to_one_core
from streams.runtime import tune_gc
from rules import load_catalogue
from rules.batch import evaluate_district
from rules.state import DistrictState, Engine


def load_events(schools: int, seed: int) -> list[dict[str, Any]]:
    from ingestion.synthetic import generate_city

    city = generate_city(seed=seed, schools=schools)
    events = []
    for line in city.lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def run_incremental(engine: Engine, events: list[Mapping[str, Any]], batch: int) -> tuple[float, dict[str, DistrictState]]:
    states: dict[str, DistrictState] = {}
    start = time.perf_counter()
    if batch <= 1:
        for e in events:
            state = states.get(e["district_code"])
            if state is None:
                state = states[e["district_code"]] = engine.new_state(e["district_code"])
            state.apply(e)
    else:
        for i in range(0, len(events), batch):
            by_district: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
            for e in events[i:i + batch]:
                by_district[e["district_code"]].append(e)
            for code, group in by_district.items():
                state = states.get(code)
                if state is None:
                    state = states[code] = engine.new_state(code)
                state.apply_batch(group)
    return time.perf_counter() - start, states


def run_full_recompute(engine: Engine, events: list[Mapping[str, Any]], sample: int) -> tuple[float, int]:
    """The baseline: after each of `sample` school events late in the stream, judge its
    district again from all of the district's facts so far."""
    by_district: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    cut = len(events) - sample
    for e in events[:cut]:
        by_district[e["district_code"]].append(e)
    measured = 0
    start = time.perf_counter()
    for e in events[cut:]:
        by_district[e["district_code"]].append(e)
        if e["event_type"].startswith("school."):
            evaluate_district(engine, e["district_code"], by_district[e["district_code"]])
            measured += 1
    return time.perf_counter() - start, measured


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline-sample", type=int, default=200)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--compiled", action="store_true",
                        help="also measure the mypyc-compiled engine (build/compiled, scripts/compile-rules.sh)")
    args = parser.parse_args(argv)
    core = pin_to_one_core()
    engine = Engine(load_catalogue())
    events = load_events(args.schools, args.seed)
    school_events = sum(1 for e in events if e["event_type"].startswith("school."))

    # the process settings the drivers run with (streams/runtime.py): the event list and the
    # catalogue frozen out of the cyclic GC's generations, a higher generation-0 threshold
    tune_gc()
    t_single, states = run_incremental(engine, events, 1)
    del states
    gc.collect()
    t_batch, states = run_incremental(engine, events, args.batch)
    t_base, n_base = run_full_recompute(engine, events, args.baseline_sample)

    per_event_single = t_single / len(events)
    per_event_base = t_base / max(n_base, 1)
    figures = {
        "benchmark": "rules engine",
        "machine": describe() | {"pinned_core": core},
        "events": len(events),
        "school_events": school_events,
        "districts": len(states),
        "apply_events_per_s": round(len(events) / t_single),
        "apply_school_events_per_s": round(school_events / t_single),
        f"apply_batch{args.batch}_events_per_s": round(len(events) / t_batch),
        f"apply_batch{args.batch}_school_events_per_s": round(school_events / t_batch),
        "full_recompute_events_per_s": round(n_base / t_base, 1) if t_base else None,
        "speedup_over_full_recompute": round(per_event_base / per_event_single, 1),
        "target_school_events_per_s": 50_000,
    }
    import rules

    figures["engine"] = "mypyc" if rules.state.__file__.endswith(".so") else "pure Python"  # type: ignore[attr-defined]
    if args.compiled:
        figures["compiled"] = run_compiled(list(sys.argv[1:] if argv is None else argv))
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        if k not in ("machine", "compiled"):
            extra = ""
            if "compiled" in figures and isinstance(v, (int, float)) and k in figures["compiled"]:
                extra = f"   compiled: {figures['compiled'][k]}"
            print(f"{k:<{width}}  {v}{extra}")
    print(f"{'machine':<{width}}  {json.dumps(figures['machine'], ensure_ascii=False)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2, ensure_ascii=False)
    return figures


def run_compiled(argv: list[str]) -> dict[str, Any]:
    """The same benchmark in a child process whose `rules` is the compiled copy."""
    root = Path(__file__).resolve().parents[1]
    compiled = root / "build" / "compiled"
    if not any((compiled / "rules").glob("state*.so")):
        subprocess.run(["bash", str(root / "scripts" / "compile-rules.sh")], check=True)
    passthrough = [a for a in argv if a != "--compiled"]
    if "--json" in passthrough:
        i = passthrough.index("--json")
        del passthrough[i:i + 2]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "compiled.json"
        env = dict(os.environ, PYTHONPATH=str(root))
        subprocess.run([sys.executable, "-m", "benchmarks.engine", *passthrough, "--json", str(out)],
                       cwd=compiled, env=env, check=True, stdout=subprocess.DEVNULL)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if result.get("engine") != "mypyc":
        raise RuntimeError("the child process did not load the compiled engine")
    return result


if __name__ == "__main__":
    main()
