"""A flood of stale versions of one fact: time per event and state size stay flat.

    python -m benchmarks.stale_flood [--events 100000] [--json out.json]

Issue #14 (item 4): 60,000 stale versions of one fact took 33 s and a rerun 21.7 s, because
every stale event id was kept per fact, and the tuple of them was copied and scanned on each
event -- quadratic time, and state growing forever. The engine now keeps a bounded window of
seen ids per fact (``rules.state.SEEN_WINDOW``). This benchmark applies N stale versions of one
``school.staff`` fact (after one good district) through ``DistrictState.apply_batch`` in batches
of 5,000, as the drivers do, then re-applies the same N events (the "rerun": recent ones are
duplicates, older ones stale again), and reports events per CPU-second for the first and the
last tenth of each pass. Linear means the last tenth is as fast as the first (ratio ~1); the
quadratic engine's last tenth was ~10x slower than its first at N = 60,000. No target is stated
in seconds (the machine is shared); the ratio and the window's size are what it checks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.machine import describe

BATCH = 5000


def _events(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import factories as f

    base = f.good_district()
    newest = f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=50)}, seq=n + 10)
    stale = [
        f.staff(
            "3702020000",
            {"primary": f.staff_section(full_time=80, qualified=1)},
            seq=i + 1,
            event_id=str(uuid.UUID(int=(1 << 100) + i, version=4)),
        )
        for i in range(n)
    ]
    return base + [newest], stale


def _pass(state: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply in batches; CPU time of the first and the last tenth of the events."""
    tenth = max(1, len(events) // 10)
    outcomes: dict[str, int] = {}
    cpu: list[float] = []
    for start in range(0, len(events), BATCH):
        chunk = events[start : start + BATCH]
        t = time.process_time()
        results, _ = state.apply_batch(chunk)
        cpu.append((time.process_time() - t) / len(chunk))
        for r in results:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    per_event = [
        c for c, start in zip(cpu, range(0, len(events), BATCH)) for _ in range(min(BATCH, len(events) - start))
    ]
    first, last = sum(per_event[:tenth]), sum(per_event[-tenth:])
    total = sum(per_event)
    return {
        "events": len(events),
        "cpu_s": round(total, 3),
        "events_per_cpu_s": round(len(events) / total),
        "first_tenth_events_per_cpu_s": round(tenth / first),
        "last_tenth_events_per_cpu_s": round(tenth / last),
        "last_over_first_time": round(last / first, 2),
        "outcomes": outcomes,
    }


def run(n: int = 100_000) -> dict[str, Any]:
    from junheng.compiled_engine import engine_kind, install

    install()  # the engine the drivers run: mypyc-compiled when a fresh build exists
    from rules import load_catalogue
    from rules.state import SEEN_WINDOW, Engine

    base, stale = _events(n)
    engine = Engine(load_catalogue())
    state = engine.new_state(base[0]["district_code"])
    state.apply_batch(base)
    first = _pass(state, stale)
    rerun = _pass(state, stale)
    key = next(k for k in state.versions if k.startswith("school.staff|3702020000"))
    figures = {
        "stale_versions": n,
        "seen_window": SEEN_WINDOW,
        "engine": engine_kind(),
        "first_pass": first,
        "rerun": rerun,
        "seen_ids_kept_for_the_fact": len(state.versions[key][2]),
        "event_ids_indexed": len(state.event_ids),
        "linear": first["last_over_first_time"] < 2 and rerun["last_over_first_time"] < 2,
        "machine": describe(),
    }
    return figures


def print_figures(f: dict[str, Any]) -> None:
    print(
        f"{f['stale_versions']:,} stale versions of one fact (window {f['seen_window']}, {f['engine']} engine), "
        f"{f['machine']['cpu']}, load {f['machine']['load_average_1m']}"
    )
    for name in ("first_pass", "rerun"):
        p = f[name]
        print(
            f"  {name:<10} {p['cpu_s']:>7.2f} CPU-s  {p['events_per_cpu_s']:>9,}/CPU-s  first tenth "
            f"{p['first_tenth_events_per_cpu_s']:>9,}/s, last tenth {p['last_tenth_events_per_cpu_s']:>9,}/s "
            f"(time ratio {p['last_over_first_time']})  {p['outcomes']}"
        )
    print(
        f"  ids kept for the fact: {f['seen_ids_kept_for_the_fact']}; ids indexed in the district: "
        f"{f['event_ids_indexed']}; linear: {f['linear']}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stale_flood",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=100_000, help="stale versions of the one fact")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    figures = run(args.events)
    print_figures(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
