"""Scale: the dbt build time and the drivers' peak memory at city and at national scale.

    python -m benchmarks.scale [--scale tiny|city|national] [--years 2021-2025] [--workdir DIR]
                               [--no-worker] [--no-build] [--keep] [--json out.json]

For each scale the benchmark

1. writes the synthetic stream (``ingestion.synthetic.write_city``) and, beyond Qingdao's ten
   districts, the jurisdiction's district list (``JUNHENG_DISTRICTS``) plus a copy of the dbt
   project whose ``districts`` seed lists them -- otherwise every fake district would be
   dead-lettered as unknown and the marts' relationship tests would fail;
2. runs the **embedded driver** as ``junheng run FILE --no-gx --no-build --json`` in a subprocess:
   wall time and peak RSS (``ru_maxrss`` of that child from ``os.wait4``, cross-checked by polling
   ``/proc/<pid>/status``);
3. runs **``junheng build``** on the warehouse it landed (a subprocess calling
   ``junheng.build.build``): dbt, the GX marts checkpoint and the export are timed separately,
   because the build does all of them and only dbt is the "build time" target;
4. produces the same file to Kafka under a fresh topic prefix and runs the **real Faust worker**
   (``python -m junheng.worker``, production defaults -- GX micro-batch suites on, batches of
   5,000 / 0.2 s -- except at national scale: GX off and 5-second batches, see ``Scale.worker_gx``)
   until it has read every message; peak RSS is the worker's ``VmHWM`` just before SIGTERM and its
   ``ru_maxrss`` after it exits. The run's topics (events, outputs, the facts changelog) are
   deleted as soon as it is measured -- at national scale they hold gigabytes.

Memory is what this benchmark is for: peak RSS does not depend on the shared machine's load,
times do (the load average is recorded at start and end).

Scales (``SCALES``): ``tiny`` (60 schools, 12 districts, 2021-2022, no build, worker without GX;
what ``run(quick=True)`` and the smoke test use), ``city`` (the 1,000-school synthetic Qingdao, 2021-2025, 1 % each of bad,
duplicate and stale lines) and ``national`` (2,800 districts, 200,000 schools). The national
default is the registration of every school plus one full year (2021): 1.06 million events. Why
one year: a five-year national run (~4.5 million events) takes hours through the worker on this
shared 2-core machine; what grows with the years (the facts table, each state's facts) is
measured per year and the five-year figure extrapolated (docs/benchmarks.md).
``--years 2021-2025`` runs all five anyway.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.machine import describe
from junheng.settings import settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3
#: targets from issue #5
TARGET_BUILD_S = 300.0
TARGET_WORKER_RSS_BYTES = GIB


@dataclass(frozen=True)
class Scale:
    """One workload: the synthetic generator's arguments."""

    name: str
    schools: int
    districts: int
    years: range
    noise: float = 0.0  # fraction each of bad, duplicate and stale lines
    seed: int = 2021
    #: the worker's GX micro-batch suites and batch time limit. Production defaults (on, 0.2 s)
    #: except at national scale: on this shared 2-core machine the worker reads a few hundred
    #: events a second there, so 1-second batches are small and GX's fixed cost per batch (~1 s
    #: under load) would double an hour-long run; GX's memory is a fixed ~190 MiB (city figures)
    worker_gx: bool = True
    worker_batch_seconds: float = 0.2

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schools": self.schools,
            "districts": self.districts,
            "years": f"{self.years[0]}-{self.years[-1]}",
            "noise_fraction_each": self.noise,
        }


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", schools=60, districts=12, years=range(2021, 2023), noise=0.01),
    "city": Scale("city", schools=1000, districts=10, years=range(2021, 2026), noise=0.01),
    "national": Scale(
        "national", schools=200_000, districts=2800, years=range(2021, 2022), worker_gx=False, worker_batch_seconds=5.0
    ),
}


# --------------------------------------------------------------------------- process memory
def _proc_status_kib(pid: int, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class RssSampler:
    """Polls a process's VmRSS/VmHWM. ``ru_maxrss`` after exit is the authoritative peak; the
    samples give the curve (RSS against events read) that tells what grows with the stream."""

    pid: int
    interval_s: float = 1.0
    progress: Callable[[], Any] | None = None  # e.g. events read so far, stored with a sample
    samples: list[tuple[float, int, Any]] = field(default_factory=list)
    hwm_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        t0 = time.perf_counter()

        def loop() -> None:
            while not self._stop.is_set():
                self.sample(t0)
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=loop, name=f"rss-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def sample(self, t0: float) -> None:
        rss = _proc_status_kib(self.pid, "VmRSS")
        hwm = _proc_status_kib(self.pid, "VmHWM")
        if hwm is not None:
            self.hwm_kib = max(self.hwm_kib, hwm)
        if rss is not None:
            self.samples.append((round(time.perf_counter() - t0, 1), rss, self.progress() if self.progress else None))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def curve(self, points: int = 12) -> list[dict[str, Any]]:
        """A thinned copy of the samples: seconds, RSS in MiB, progress."""
        if not self.samples:
            return []
        step = max(1, len(self.samples) // points)
        picked = self.samples[::step]
        if picked[-1] is not self.samples[-1]:
            picked.append(self.samples[-1])
        return [{"s": s, "rss_mib": round(kib / 1024, 1), "progress": p} for s, kib, p in picked]


def _wait_rusage(proc: subprocess.Popen[Any]) -> int:
    """Reap `proc` with wait4 and return its ru_maxrss in bytes (Linux reports KiB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return int(usage.ru_maxrss) * 1024


def _run_measured(cmd: Sequence[str], env: dict[str, str], log_path: Path, timeout_s: float) -> dict[str, Any]:
    """Run a command to completion: exit code, wall time, peak RSS, stdout (kept in a file)."""
    start = time.perf_counter()
    with open(log_path, "wb") as out, open(log_path.with_suffix(".err"), "wb") as err:
        proc = subprocess.Popen(list(cmd), cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err)
        sampler = RssSampler(proc.pid).start()
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            peak = _wait_rusage(proc)
        finally:
            timer.cancel()
            sampler.stop()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log_path.with_suffix(".err").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited {proc.returncode} after {wall:.0f} s:\n{tail}")
    return {
        "wall_s": round(wall, 2),
        "peak_rss_bytes": peak,
        "peak_rss_mib": round(peak / 2**20, 1),
        "rss_curve": sampler.curve(),
        "stdout": log_path.read_text(encoding="utf-8", errors="replace"),
    }


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    raise ValueError(f"no JSON object in the output: {text[-500:]!r}")


# --------------------------------------------------------------------------- preparation
@dataclass
class Prepared:
    scale: Scale
    events: Path
    manifest: dict[str, Any]
    districts_csv: Path | None  # None: the packaged Qingdao list
    project_dir: Path  # the dbt project (a copy with the national districts seed)
    generate_s: float

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning")
        env.pop("JUNHENG_DISTRICTS", None)
        if self.districts_csv is not None:
            env["JUNHENG_DISTRICTS"] = str(self.districts_csv)
        return env


def prepare(scale: Scale, workdir: Path) -> Prepared:
    """The event file (re-used when the same scale was written before), the district list and
    the dbt project the scale needs."""
    from ingestion.synthetic import write_city

    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{scale.name}-{scale.schools}s-{scale.districts}d-{scale.years[0]}-{scale.years[-1]}-n{scale.noise}"
    events, manifest_path = workdir / f"{stem}.jsonl", workdir / f"{stem}.manifest.json"
    t = time.perf_counter()
    if events.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    else:
        manifest = write_city(
            events,
            seed=scale.seed,
            years=scale.years,
            schools=scale.schools,
            bad_fraction=scale.noise,
            duplicate_fraction=scale.noise,
            stale_fraction=scale.noise,
            districts=scale.districts,
        )
        manifest.pop("students", None)  # per-district detail: megabytes at national scale
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    generate_s = time.perf_counter() - t
    districts_csv = None
    project = PROJECT_ROOT / "dbt_project"
    if scale.districts > 10:
        districts_csv = workdir / f"districts-{scale.districts}-{scale.seed}.csv"
        write_districts_csv(districts_csv, scale.districts, scale.seed)
        project = national_dbt_project(workdir / f"dbt_project-{scale.districts}", districts_csv)
    return Prepared(scale, events, manifest, districts_csv, project, round(generate_s, 1))


def write_districts_csv(path: Path, districts: int, seed: int) -> None:
    """Qingdao's packaged rows, then the synthetic districts: what a national deployment would
    put in JUNHENG_DISTRICTS."""
    from importlib import resources

    from ingestion.reference import load_districts
    from ingestion.synthetic.profiles import synthetic_profiles

    packaged = load_districts(Path(str(resources.files("ingestion.reference") / "districts.csv")))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["district_code", "name_zh", "name_en", "kind", "profile"])
        for p in synthetic_profiles(districts, seed):
            d = packaged.get(p.code)
            if d is not None:
                w.writerow([d.code, d.name_zh, d.name_en, d.kind, d.profile])
            else:
                w.writerow([p.code, p.name_zh, p.name_en, "district", p.archetype.name.replace("_", " ")])
    tmp.replace(path)


def national_dbt_project(target: Path, districts_csv: Path) -> Path:
    """A copy of dbt_project/ whose seeds are rendered for `districts_csv`, for the benchmark's own
    dbt runs (`junheng build` renders the warehouse's seeds from JUNHENG_DISTRICTS by itself)."""
    from rules import load_catalogue
    from rules.seeds import render

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        PROJECT_ROOT / "dbt_project", target, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    for name, text in render(load_catalogue(settings().catalogue), districts_csv).items():
        (target / "seeds" / name).write_text(text, encoding="utf-8")
    return target


# --------------------------------------------------------------------------- the measurements
def measure_embedded(p: Prepared, warehouse: Path, timeout_s: float) -> dict[str, Any]:
    """``junheng run --no-gx --no-build`` in its own process: wall time, peak RSS, counts."""
    if warehouse.exists():
        shutil.rmtree(warehouse)
    cmd = [
        sys.executable,
        "-m",
        "junheng.cli",
        "run",
        str(p.events),
        "--warehouse",
        str(warehouse),
        "--no-gx",
        "--no-build",
        "--json",
    ]
    m = _run_measured(cmd, p.env(), warehouse.parent / f"{warehouse.name}.embedded.log", timeout_s)
    summary = _last_json(m.pop("stdout"))
    read = summary["read"]
    return m | {
        "counts": {k: summary[k] for k in ("read", "applied", "duplicate", "stale", "dead_lettered")},
        "driver_elapsed_s": summary["elapsed_s"],
        "events_per_s": round(read / summary["elapsed_s"]) if summary["elapsed_s"] else None,
        "landing_bytes": _du(warehouse / "landing"),
        "state_bytes": _du(warehouse / "state"),
    }


_BUILD_SCRIPT = """
import json, sys
from pathlib import Path
from junheng.build import build
r = build(Path(sys.argv[1]), project_dir=sys.argv[2], data_docs=False)
print(json.dumps({"timings": r.timings, "dbt": r.dbt,
                  "checkpoint": r.checkpoint.statistics,
                  "rows": {k: v.rows for k, v in r.exports.items()}}))
"""


def measure_build(p: Prepared, warehouse: Path, timeout_s: float) -> dict[str, Any]:
    """``junheng build`` (junheng.build.build) on the landed warehouse; dbt, the GX checkpoint
    and the export timed apart. The peak RSS is the larger of the build process and dbt's."""
    cmd = [sys.executable, "-c", _BUILD_SCRIPT, str(warehouse), str(p.project_dir)]
    m = _run_measured(cmd, p.env(), warehouse.parent / f"{warehouse.name}.build.log", timeout_s)
    out = _last_json(m.pop("stdout"))
    t = out["timings"]
    return m | {
        "dbt_s": t.get("dbt"),
        "checkpoint_s": t.get("checkpoint"),
        "export_s": t.get("export"),
        "seeds_s": t.get("seeds"),
        "total_s": t.get("total"),
        "dbt_nodes": out["dbt"],
        "checkpoint": out["checkpoint"],
        "mart_rows": out["rows"],
        "duckdb_bytes": _du(warehouse / "junheng.duckdb"),
        "dbt_threads": _dbt_threads(p.project_dir),
        "target_dbt_s": TARGET_BUILD_S,
        "dbt_target_met": (t.get("dbt") or 0) < TARGET_BUILD_S,
    }


def measure_worker(
    p: Prepared,
    workdir: Path,
    timeout_s: float,
    gx: bool = True,
    batch_size: int = 5000,
    batch_seconds: float = 1.0,
    max_loaded_districts: int | None = None,
    produced: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Produce the file to a fresh topic prefix, run ``python -m junheng.worker`` until it has read
    every message, stop it, delete the run's topics. Peak RSS of the worker process.

    ``produced`` = (topic prefix, messages): use a topic an earlier (interrupted) run loaded
    instead -- producing a million events with kafka-python takes minutes; its topics are deleted
    at the end all the same. The app id is always new, so no committed offset or changelog of an
    earlier worker is re-used."""
    from benchmarks.kafka_util import delete_topics, require_broker, settings_for, unique_prefix
    from ingestion.producer import create_topics, produce_files

    servers = require_broker()
    prefix = produced[0] if produced else unique_prefix(f"scale-{p.scale.name}")
    app_id = f"{prefix}-worker-{os.getpid()}-{int(time.time()) % 100000}"
    settings = settings_for(servers, prefix)
    warehouse = workdir / f"{p.scale.name}-worker-wh"
    if warehouse.exists():
        shutil.rmtree(warehouse)
    warehouse.mkdir(parents=True)
    counts_file = warehouse / "worker-counts.json"
    log_path = workdir / f"{p.scale.name}-worker.log"
    result: dict[str, Any] = {
        "topic_prefix": prefix,
        "gx": gx,
        "batch_size": batch_size,
        "batch_seconds": batch_seconds,
        "max_loaded_districts": max_loaded_districts,
    }
    try:
        if produced:
            total = produced[1]
            result["produce"] = {"sent": total, "reused_topic": True}
        else:
            create_topics(settings, partitions=4)
            sent = produce_files([p.events], settings)
            result["produce"] = {k: sent[k] for k in ("sent", "bytes", "elapsed_s")}
            total = int(sent["sent"])
        env = p.env() | {"JUNHENG_KAFKA_BOOTSTRAP": servers, "JUNHENG_TOPIC_PREFIX": prefix}
        cmd = [
            sys.executable,
            "-m",
            "junheng.worker",
            "--warehouse",
            str(warehouse),
            "--app-id",
            app_id,
            "--batch-size",
            str(batch_size),
            "--batch-seconds",
            str(batch_seconds),
            "--counts-file",
            str(counts_file),
            "--log-every",
            "30",
            "--no-create-topics",
        ]
        cmd += [] if gx else ["--no-gx"]
        if max_loaded_districts is not None:
            cmd += ["--max-loaded-districts", str(max_loaded_districts)]

        def counts() -> dict[str, Any]:
            try:
                return json.loads(counts_file.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
            except (OSError, ValueError):
                return {}

        start = time.perf_counter()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            sampler = RssSampler(proc.pid, interval_s=2.0, progress=lambda: counts().get("read")).start()
            first_event_at = None
            try:
                deadline = time.monotonic() + timeout_s
                while True:
                    c = counts()
                    if first_event_at is None and c.get("read"):
                        first_event_at = time.perf_counter() - start
                    if c.get("pid") == proc.pid and int(c.get("read") or 0) >= total:
                        break
                    if proc.poll() is not None:
                        raise RuntimeError(f"worker exited with {proc.returncode}; see {log_path}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"worker read {c.get('read')} of {total} in {timeout_s} s; see {log_path}")
                    time.sleep(0.5)
                done_s = time.perf_counter() - start
                sampler.sample(start)
                hwm_before_stop = sampler.hwm_kib * 1024
            finally:
                sampler.stop()
                if proc.poll() is None and proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    timer = threading.Timer(60, proc.kill)
                    timer.start()
                    try:
                        peak = _wait_rusage(proc)
                    finally:
                        timer.cancel()
                else:
                    peak = 0
        final = counts()
        result.update(
            {
                "events": total,
                "wall_s": round(done_s, 2),
                "first_batch_done_s": round(first_event_at, 1) if first_event_at else None,  # start-up + 1st batch
                # from the end of the first batch: start-up (Faust, GX import, group join) excluded
                "events_per_s": round(total / span) if (span := done_s - (first_event_at or 0)) >= 1 else None,
                "peak_rss_bytes": max(peak, hwm_before_stop),
                "peak_rss_mib": round(max(peak, hwm_before_stop) / 2**20, 1),
                "peak_rss_before_stop_mib": round(hwm_before_stop / 2**20, 1),
                "exit_code": proc.returncode,
                "rss_curve": sampler.curve(),
                "counts": {k: final.get(k) for k in ("read", "applied", "duplicate", "stale", "dead_lettered")},
                "districts_loaded": final.get("districts_loaded"),
                "state_rebuilds": final.get("state_rebuilds"),
                "state_rebuild_s": final.get("state_rebuild_s"),
                "state_evictions": final.get("state_evictions"),
                "batches": final.get("batches"),
                "engine": final.get("engine"),
                "timing_s": final.get("timing_s"),
                "target_rss_bytes": TARGET_WORKER_RSS_BYTES,
                "rss_target_met": max(peak, hwm_before_stop) < TARGET_WORKER_RSS_BYTES,
                # the GX suites' own process beside the worker (None with GX off), from the counts file
                "gx_child_peak_rss_mib": (final.get("gx_child") or {}).get("peak_rss_mib"),
            }
        )
    finally:
        result["deleted_topics"] = len(delete_topics(servers, prefix))
    return result


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _dbt_threads(project: Path) -> int | None:
    for line in (project / "profiles.yml").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("threads:"):
            return int(line.split(":", 1)[1])
    return None


# --------------------------------------------------------------------------- the run
def run_scale(
    scale: Scale,
    workdir: Path,
    *,
    worker: bool = True,
    build: bool = True,
    worker_gx: bool = True,
    timeout_s: float = 3600.0,
    embedded: bool = True,
) -> dict[str, Any]:
    """Every measurement of one scale; a step that cannot run (no broker) says why instead."""
    p = prepare(scale, workdir)
    m = p.manifest
    out: dict[str, Any] = {
        "workload": scale.describe()
        | {
            "lines": m.get("lines"),
            "valid_unique": m.get("valid_unique"),
            "bytes": p.events.stat().st_size,
            "generate_s": p.generate_s,
        },
    }
    wh = workdir / f"{scale.name}-embedded-wh"
    if embedded:  # the build reads the warehouse the embedded driver landed
        out["embedded"] = measure_embedded(p, wh, timeout_s)
    if build and embedded:
        out["build"] = measure_build(p, wh, timeout_s)
    if worker:
        try:
            out["worker"] = measure_worker(
                p, workdir, timeout_s, gx=worker_gx, batch_seconds=scale.worker_batch_seconds
            )
        except Exception as exc:  # no broker: the other figures still stand
            from benchmarks.kafka_util import BrokerUnavailable

            if not isinstance(exc, BrokerUnavailable):
                raise
            out["worker"] = {"skipped": str(exc)}
    return out


def run(
    quick: bool = False,
    scales: Sequence[str] | None = None,
    *,
    workdir: Path | None = None,
    years: range | None = None,
    worker: bool = True,
    build: bool | None = None,
    keep: bool = False,
    timeout_s: float = 3600.0,
    embedded: bool = True,
) -> dict[str, Any]:
    """Measure the given scales (default: city and national) and return the figures.

    ``quick``: the tiny scale, embedded driver and worker (without the GX micro-batch suites),
    in well under a minute -- what the smoke test runs to keep the benchmark working. The build is
    left out of ``quick`` unless ``build=True``: dbt's fixed cost (parsing the project, 136 nodes)
    alone is 25-80 s on this shared 2-core machine, whatever the data. Generated files go to
    `workdir` (default: a temporary folder under /tmp, removed afterwards unless `keep`)."""
    names = list(scales or (["tiny"] if quick else ["city", "national"]))
    if build is None:
        build = not quick
    own = workdir is None
    base = Path(tempfile.mkdtemp(prefix="junheng-scale-")) if own else Path(workdir)  # type: ignore[arg-type]
    figures: dict[str, Any] = {"benchmark": "scale", "machine": describe(), "loadavg_start": _loadavg(), "scales": {}}
    try:
        for name in names:
            scale = SCALES[name]
            if years is not None:
                scale = dataclasses.replace(scale, years=years)
            figures["scales"][name] = run_scale(
                scale,
                base,
                worker=worker,
                build=build,
                worker_gx=scale.worker_gx and not quick,
                timeout_s=timeout_s,
                embedded=embedded,
            )
    finally:
        figures["loadavg_end"] = _loadavg()
        if own and not keep:
            shutil.rmtree(base, ignore_errors=True)
    return figures


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _years(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def print_figures(figures: dict[str, Any]) -> None:
    print(f"machine: {json.dumps(figures['machine'], ensure_ascii=False)}")
    print(f"load average: start {figures['loadavg_start']}, end {figures['loadavg_end']}")
    for name, s in figures["scales"].items():
        w = s["workload"]
        print(
            f"\n== {name}: {w['schools']:,} schools, {w['districts']:,} districts, {w['years']}, "
            f"{w['lines']:,} events ({w['bytes'] / 2**20:,.0f} MiB)"
        )
        if "embedded" in s:
            e = s["embedded"]
            print(
                f"  embedded  {e['wall_s']:8.1f} s wall, {e['events_per_s'] or 0:,} events/s, "
                f"peak RSS {e['peak_rss_mib']:,.0f} MiB"
            )
        if "build" in s:
            b = s["build"]
            print(
                f"  build     dbt {b['dbt_s']:.1f} s (target < {TARGET_BUILD_S:.0f} s: "
                f"{'met' if b['dbt_target_met'] else 'MISSED'}), checkpoint {b['checkpoint_s']:.1f} s, "
                f"export {b['export_s']:.1f} s, total {b['total_s']:.1f} s, peak RSS {b['peak_rss_mib']:,.0f} MiB"
            )
        if "worker" in s:
            k = s["worker"]
            if "skipped" in k:
                print(f"  worker    skipped: {k['skipped']}")
            else:
                print(
                    f"  worker    {k['wall_s']:8.1f} s wall (first batch done at {k['first_batch_done_s']} s), "
                    f"{k['events_per_s'] or '-'} events/s, peak RSS {k['peak_rss_mib']:,.0f} MiB "
                    f"(target < 1024 MiB: {'met' if k['rss_target_met'] else 'MISSED'})"
                    + (f"; GX child {k['gx_child_peak_rss_mib']:,.0f} MiB" if k.get("gx_child_peak_rss_mib") else "")
                )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        action="append",
        choices=sorted(SCALES),
        help="tiny, city or national (repeatable; default: city and national)",
    )
    parser.add_argument("--years", type=_years, help="override the scale's years, e.g. 2021-2025")
    parser.add_argument("--workdir", help="keep generated files here (re-used by the next run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument("--no-worker", action="store_true", help="skip the Kafka worker")
    parser.add_argument("--no-build", action="store_true", help="skip junheng build (--quick skips it anyway)")
    parser.add_argument(
        "--no-embedded",
        action="store_true",
        help="skip the embedded driver (and so the build, which reads its warehouse)",
    )
    parser.add_argument("--quick", action="store_true", help="the tiny scale only (what the smoke test runs)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per step (3600)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    figures = run(
        args.quick,
        args.scale,
        workdir=Path(args.workdir) if args.workdir else None,
        years=args.years,
        worker=not args.no_worker,
        build=False if args.no_build else None,
        keep=args.keep,
        timeout_s=args.timeout,
        embedded=not args.no_embedded,
    )
    print_figures(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
