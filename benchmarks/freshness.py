"""Freshness: how long a correction takes from its events to checked marts, full vs incremental.

    python -m benchmarks.freshness [--scale city|national] [--years 2021-2025] [--corrections 3]
                                   [--workdir DIR] [--verify] [--published | --serve DEBOUNCE] [--json out.json]

For a scale of ``benchmarks.scale`` (its event file, district list and dbt project):

1. the embedded driver lands the whole stream (``junheng run --no-gx --no-build``, its own process);
2. a **full build** as ``junheng build`` runs it for a first build: ``make_plan(layout, None)``,
   ``dbt build --full-refresh`` (seeds, models, data and unit tests, snapshot), then the marts
   checkpoint (SQL, no Data Docs), each in its own process: wall time and peak RSS (GNU time's
   ``%M`` around the process; dbt's includes DuckDB, which runs inside it);
3. ``--corrections`` times: **one district corrected** (new versions of a few of its schools'
   staff, facilities and enrolment facts of the last year, ``benchmarks.corrections``), landed by
   the embedded driver, then the incremental build (the plan from the previous build's state: dbt
   without unit tests, the checkpoint on the changed district-years), timed the same way;
4. with ``--verify``, a full rebuild of the same landing into another database, and every mart of
   the incremental warehouse compared with it (tests/dbt/compare_marts.py).

Publishing, the alert stage and the report are not part of these figures. With ``--published``
every build is ``junheng build`` itself instead (its own process: seeds, plan, dbt, alerts,
checkpoint with Data Docs, publish, export, delivery, report), so a step's total is the time
from a correction's arrival to its published mart row, alerts and report; the build's own stage
timings are reported beside. With ``--serve DEBOUNCE`` ``junheng serve`` builds instead, as it does
beside a worker (dbt kept warm across its builds): its first build is the full one, and each
correction is timed from the start of its landing to the version serve published with it (serve
noticing the change and its debounce included). Times depend on the machine's load (recorded),
memory does not.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.machine import describe
from benchmarks.scale import SCALES, Prepared, Scale, _run_measured, measure_embedded, prepare

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-06-30"
#: targets from issue #11
TARGETS_S = {"city_correction": 5.0, "national_correction": 30.0, "national_full": 120.0}
TARGET_PEAK_RSS_BYTES = 2 * 1024**3

_CHECKPOINT_SCRIPT = """
import json, sys
from expectations.marts import run_checkpoint
from junheng.incremental import BuildPlan
plan = BuildPlan(full_refresh=sys.argv[3] == "full", reason="benchmark")
r = run_checkpoint(sys.argv[1], sys.argv[2], plan=plan, data_docs=False)
print(json.dumps({"success": r.success, "message": r.message(), "scope": r.scope, "timings": r.timings,
                  "rows": {s.mart: s.rows for s in r.suites}, "statistics": r.statistics}))
"""


def _measured(cmd: Sequence[str], env: dict[str, str], log_path: Path, timeout_s: float) -> dict[str, Any]:
    """``benchmarks.scale._run_measured`` with the peak RSS taken by GNU time around the command:
    a forked child's ``ru_maxrss`` counts the parent's pages it had before exec (this process holds
    hundreds of MiB after generating a national stream), GNU time's child does not."""
    timer = shutil.which("time", path="/usr/bin:/bin")
    if timer is None:
        return _run_measured(cmd, env, log_path, timeout_s)
    m = _run_measured([timer, "-f", "peak-rss-kb=%M", *cmd], env, log_path, timeout_s)
    for line in reversed(log_path.with_suffix(".err").read_text(encoding="utf-8", errors="replace").splitlines()):
        if line.startswith("peak-rss-kb="):
            kib = int(line.split("=", 1)[1])
            m.update(peak_rss_bytes=kib * 1024, peak_rss_mib=round(kib / 1024, 1))
            break
    return m


def _dbt_cmd(p: Prepared, warehouse: Path, args: Sequence[str]) -> list[str]:
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    return [
        dbt,
        "build",
        "--project-dir",
        str(p.project_dir),
        "--profiles-dir",
        str(p.project_dir),
        "--target-path",
        str(warehouse / "dbt-target"),
        "--log-path",
        str(warehouse / "dbt-logs"),
        "--vars",
        json.dumps({"as_of": AS_OF}),
        *args,
    ]


def _env(p: Prepared, warehouse: Path) -> dict[str, str]:
    from junheng.settings import settings

    return p.env() | {
        "JUNHENG_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
        "JUNHENG_CATALOGUE": settings().catalogue,
        "PYTHONPATH": str(PROJECT_ROOT),
    }


def _dbt_elapsed(warehouse: Path) -> dict[str, Any]:
    """dbt's own account of the run: node time (elapsed) and the slowest nodes."""
    try:
        results = json.loads((warehouse / "dbt-target" / "run_results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    nodes = sorted(results.get("results") or [], key=lambda r: -float(r.get("execution_time") or 0))
    return {
        "nodes_elapsed_s": round(float(results.get("elapsed_time") or 0), 2),
        "nodes": len(nodes),
        "slowest": [[r["unique_id"].split(".")[-1], round(float(r["execution_time"]), 2)] for r in nodes[:5]],
    }


def build_once(p: Prepared, warehouse: Path, previous: dict[str, Any] | None, timeout_s: float) -> dict[str, Any]:
    """make_plan → dbt → checkpoint, as junheng build runs them; each timed, dbt and the checkpoint
    in their own processes (peak RSS)."""
    from junheng.incremental import make_plan
    from junheng.layout import WarehouseLayout

    t = time.perf_counter()
    plan = make_plan(WarehouseLayout(warehouse), previous, project_dir=p.project_dir)
    plan_s = time.perf_counter() - t
    env = _env(p, warehouse)
    dbt = _measured(
        _dbt_cmd(p, warehouse, plan.dbt_args), env, warehouse.parent / f"{warehouse.name}.dbt.log", timeout_s
    )
    dbt.pop("stdout", None)
    cp = _measured(
        [
            sys.executable,
            "-c",
            _CHECKPOINT_SCRIPT,
            str(warehouse),
            env["JUNHENG_CATALOGUE"],
            "full" if plan.full_refresh else "incremental",
        ],
        env,
        warehouse.parent / f"{warehouse.name}.checkpoint.log",
        timeout_s,
    )
    out = json.loads(cp.pop("stdout").strip().splitlines()[-1])
    if not out["success"]:
        raise RuntimeError(f"the checkpoint failed:\n{out['message']}")
    return {
        "plan": {
            "full_refresh": plan.full_refresh,
            "reason": plan.reason,
            "dbt_args": plan.dbt_args,
            "s": round(plan_s, 3),
        },
        "dbt": {"wall_s": dbt["wall_s"], "peak_rss_mib": dbt["peak_rss_mib"], **_dbt_elapsed(warehouse)},
        "checkpoint": {
            "wall_s": cp["wall_s"],
            "peak_rss_mib": cp["peak_rss_mib"],
            "scope": out["scope"],
            "validate_s": out["timings"].get("validate"),
            "rows": out["rows"],
        },
        "total_s": round(plan_s + dbt["wall_s"] + cp["wall_s"], 2),
        "state": plan.state,
    }


def publish_once(p: Prepared, warehouse: Path, previous: dict[str, Any] | None, timeout_s: float) -> dict[str, Any]:
    """``junheng build`` as an operator runs it, in its own process: its wall time, peak RSS and
    its own stage timings. ``previous`` is unused: the build plans from what it published."""
    cmd = [
        sys.executable,
        "-m",
        "junheng.cli",
        "build",
        "--warehouse",
        str(warehouse),
        "--as-of",
        AS_OF,
        "--json",
        "--quiet",
    ]
    env = _env(p, warehouse)
    env.pop("JUNHENG_ALERTMANAGER_URL", None)
    m = _measured(cmd, env, warehouse.parent / f"{warehouse.name}.build.log", timeout_s)
    out = json.loads(m.pop("stdout").strip().splitlines()[-1])
    if not out.get("success"):
        raise RuntimeError(f"junheng build failed: {json.dumps(out)[:2000]}")
    return {
        "plan": out.get("plan"),
        "build": {
            "wall_s": m["wall_s"],
            "peak_rss_mib": m["peak_rss_mib"],
            "timings": out["timings"],
            "published_version": (out.get("published") or {}).get("version"),
        },
        "total_s": m["wall_s"],
        "state": None,
    }


def serve_builds(
    p: Prepared, warehouse: Path, corrections: int, timeout_s: float, debounce_s: float, first_step: int = 0
) -> dict[str, Any]:
    """``junheng serve`` on the landed warehouse (dbt kept warm across its builds): its first build
    is the full one; then each correction is landed and timed from the landing's start to the
    version serve published with it (its ``serve.json``: after alerts, publish and report)."""
    from benchmarks.published_watch import Serve

    log = warehouse.parent / f"{warehouse.name}.serve.log"
    serve = Serve(
        warehouse, log, max_staleness=30.0, debounce=debounce_s, data_docs=True, poll=0.1, env=_env(p, warehouse)
    )

    def published_after(version: int, since: float) -> dict[str, Any]:
        while True:
            status = serve.status() or {}
            now = (status.get("published") or {}).get("version") or 0
            if now > version and status.get("state") in ("idle", "pending"):
                return status
            if serve.proc.poll() is not None or time.perf_counter() - since > timeout_s:
                raise RuntimeError(f"junheng serve published nothing after version {version}:\n{serve.log_tail()}")
            time.sleep(0.02)

    def build_of(status: dict[str, Any]) -> dict[str, Any]:
        last = status["last_build"]
        return {"seconds": last["seconds"], "timings": last["timings"], "published_version": last["version"]}

    try:
        t0 = time.perf_counter()
        status = published_after(0, t0)
        out: dict[str, Any] = {
            # None: the warehouse was published before serve started (nothing for it to build)
            "full_build": {"build": build_of(status), "total_s": round(time.perf_counter() - t0, 2)}
            if status.get("last_build")
            else None,
            "corrections": [],
        }
        for i in range(first_step, first_step + corrections):
            version = status["published"]["version"]
            step: dict[str, Any] = {"correction": correct_one_district(p, warehouse, i, timeout_s)}
            # from the landing's start: picking and writing the correction (reading the stream,
            # gigabytes at national scale) is the benchmark's work, not the correction's path
            t0 = step["correction"].pop("launched_at")
            if not step["correction"]["applied"]:  # nothing landed: serve has nothing to build
                raise RuntimeError(f"correction {i} applied nothing (already landed?): {step['correction']}")
            status = published_after(version, t0)
            step["build"] = build_of(status)
            step["total_s"] = round(time.perf_counter() - t0, 2)
            # between the landing and the build: serve noticing the change (poll) and the debounce
            step["waited_s"] = round(step["total_s"] - step["correction"]["wall_s"] - step["build"]["seconds"], 2)
            out["corrections"].append(step)
        return out
    finally:
        serve.stop()


def correct_one_district(p: Prepared, warehouse: Path, step: int, timeout_s: float) -> dict[str, Any]:
    """New versions of a few facts of one district's schools (last year), landed by the embedded
    driver in its own process."""
    from benchmarks.corrections import corrections, load_events, write_jsonl

    last = p.scale.years[-1]
    events = load_events(p.events, districts=_district_of(p, step))
    for previous in sorted(warehouse.parent.glob(f"{warehouse.name}-correction-*.jsonl")):
        events += load_events(previous)
    new = corrections(events, districts=1, per_district=2, year=last, seed=100 + step)
    path = write_jsonl(warehouse.parent / f"{warehouse.name}-correction-{step:02d}.jsonl", new)
    cmd = [
        sys.executable,
        "-m",
        "junheng.cli",
        "run",
        str(path),
        "--warehouse",
        str(warehouse),
        "--no-gx",
        "--no-build",
        "--json",
    ]
    launched = time.perf_counter()  # the correction arrives: what came before is the benchmark's own reading
    m = _measured(
        cmd, p.env() | {"PYTHONPATH": str(PROJECT_ROOT)}, warehouse.parent / f"{warehouse.name}.step.log", timeout_s
    )
    summary = json.loads(m.pop("stdout").strip().splitlines()[-1])
    return {
        "launched_at": launched,
        "events": len(new),
        "district": new[0]["district_code"] if new else None,
        "applied": summary["applied"],
        "wall_s": m["wall_s"],
        "engine_s": summary["elapsed_s"],
        "peak_rss_mib": m["peak_rss_mib"],
    }


def _district_of(p: Prepared, step: int) -> set[str]:
    """A district with school staff facts in the last year, a different one per step (its events
    are read alone: at national scale the file is gigabytes). A noisy stream's bad lines name
    unknown districts too: only a district with at least ten such facts is taken."""
    mark = f'"year":{p.scale.years[-1]}'
    counts: dict[str, int] = {}
    with open(p.events, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if '"event_type":"school.staff"' in line and mark in line:
                i = line.find('"district_code":"')
                if i >= 0:
                    code = line[i + 17 : i + 23]
                    counts[code] = counts.get(code, 0) + 1
    codes = sorted(c for c, n in counts.items() if n >= 10)
    return {codes[(3 + 7 * step) % len(codes)]}


def verify(p: Prepared, warehouse: Path, timeout_s: float) -> dict[str, Any]:
    """A full rebuild of the same landing in another folder, every mart compared with it."""
    reference = warehouse.parent / f"{warehouse.name}-full-rebuild"
    if reference.exists():
        shutil.rmtree(reference)
    reference.mkdir()
    (reference / "landing").symlink_to(warehouse / "landing")
    m = _measured(
        _dbt_cmd(p, reference, ["--full-refresh", "--exclude", "resource_type:test", "resource_type:unit_test"]),
        _env(p, reference),
        reference.parent / f"{reference.name}.dbt.log",
        timeout_s,
    )
    spec = importlib.util.spec_from_file_location("compare_marts", PROJECT_ROOT / "tests" / "dbt" / "compare_marts.py")
    assert spec and spec.loader
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    notes: list[str] = []
    problems = compare.compare(reference, warehouse, rel_tol=1e-9, notes=notes)
    return {"full_rebuild_wall_s": m["wall_s"], "equal": not problems, "problems": problems[:5], "notes": notes}


def run(
    scale: Scale,
    workdir: Path,
    corrections: int = 3,
    check: bool = False,
    timeout_s: float = 7200.0,
    published: bool = False,
    serve_debounce_s: float | None = None,
) -> dict[str, Any]:
    p = prepare(scale, workdir)
    warehouse = workdir / f"{scale.name}-freshness-wh"
    build = publish_once if published else build_once
    served = serve_debounce_s is not None
    out: dict[str, Any] = {
        "machine_start": describe(),
        "workload": scale.describe() | {"lines": p.manifest.get("lines"), "bytes": p.events.stat().st_size},
        "measured": f"junheng serve (dbt kept warm, debounce {serve_debounce_s:g} s)"
        if served
        else "junheng build (published)"
        if published
        else "plan, dbt, checkpoint",
    }
    out["embedded"] = {k: v for k, v in measure_embedded(p, warehouse, timeout_s).items() if k != "rss_curve"}
    if serve_debounce_s is not None:
        out |= serve_builds(p, warehouse, corrections, timeout_s, serve_debounce_s)
        steps: list[dict[str, Any]] = out["corrections"]
    else:
        full = build(p, warehouse, None, timeout_s)
        state = full.pop("state")
        out["full_build"] = full
        steps = []
        for i in range(corrections):
            step = {"correction": correct_one_district(p, warehouse, i, timeout_s)}
            step["correction"].pop("launched_at")
            built = build(p, warehouse, state, timeout_s)
            state = built.pop("state")
            step["build"] = built
            step["total_s"] = round(step["correction"]["wall_s"] + built["total_s"], 2)
            steps.append(step)
        out["corrections"] = steps
    if steps:
        out["correction_median_s"] = {
            "landing (junheng run)": statistics.median(s["correction"]["wall_s"] for s in steps)
        }
        if served:
            stages = sorted({k for s in steps for k in s["build"]["timings"]} - {"total"})
            out["correction_median_s"] |= {
                k: statistics.median(s["build"]["timings"].get(k, 0.0) for s in steps) for k in stages
            }
            out["correction_median_s"]["serve noticing + debounce"] = statistics.median(s["waited_s"] for s in steps)
            out["correction_median_s"]["build"] = statistics.median(s["build"]["seconds"] for s in steps)
        elif published:
            stages = sorted({k for s in steps for k in s["build"]["build"]["timings"]} - {"total"})
            out["correction_median_s"] |= {
                k: statistics.median(s["build"]["build"]["timings"].get(k, 0.0) for s in steps) for k in stages
            }
            out["correction_median_s"]["junheng build (wall)"] = statistics.median(s["total_s"] for s in steps)
        else:
            out["correction_median_s"] |= {
                "dbt": statistics.median(s["build"]["dbt"]["wall_s"] for s in steps),
                "checkpoint": statistics.median(s["build"]["checkpoint"]["wall_s"] for s in steps),
            }
        out["correction_median_s"]["total"] = statistics.median(s["total_s"] for s in steps)
    if check:
        out["verify"] = verify(p, warehouse, timeout_s)
    out["database_bytes"] = (warehouse / "junheng.duckdb").stat().st_size
    out["machine_end"] = describe()
    return out


def _years(text: str) -> range:
    a, _, b = text.partition("-")
    return range(int(a), int(b or a) + 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.freshness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="city")
    parser.add_argument("--years", type=_years, help="e.g. 2021-2025 (default: the scale's)")
    parser.add_argument("--corrections", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "junheng-freshness")
    parser.add_argument("--verify", action="store_true", help="compare the marts with a full rebuild at the end")
    parser.add_argument(
        "--published", action="store_true", help="time `junheng build` (alerts, publish, report) instead"
    )
    parser.add_argument(
        "--serve",
        type=float,
        metavar="DEBOUNCE",
        help="let `junheng serve` (dbt kept warm) build, with this debounce in seconds, and time each "
        "correction from its landing to the version serve published",
    )
    parser.add_argument("--json", type=Path, help="write the figures there too")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale]
    if args.years:
        scale = Scale(
            scale.name,
            scale.schools,
            scale.districts,
            args.years,
            scale.noise,
            scale.seed,
            scale.worker_gx,
            scale.worker_batch_seconds,
        )
    result = run(
        scale, args.workdir, args.corrections, args.verify, published=args.published, serve_debounce_s=args.serve
    )
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
