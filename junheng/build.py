"""`junheng build`: landing files → dbt marts → alerts → GX checkpoint → Parquet exports → report,
or a clear failure.

    build(warehouse, as_of=None, catalogue=None) -> BuildResult      raises BuildError

1. **seeds**: the dbt seeds must be what the rules catalogue renders today (the check of
   ``python -m rules.seeds dbt_project/seeds --check``); stale seeds stop the build before dbt runs.
2. **dbt**: ``dbt build`` of every model but ``mart_alerts`` with the venv's dbt (beside
   ``sys.executable``), ``JUNHENG_WAREHOUSE`` set and ``--vars '{as_of: …}'``; target and logs go to
   ``<warehouse>/dbt-target`` and ``<warehouse>/dbt-logs``. GX is imported in a background thread
   meanwhile (it takes ~10 s).
3. **alerts**: the alerts evaluated on those marts (and the landed district statuses), their state
   changes landed in ``landing/alert_events`` and queued; then ``dbt build --select mart_alerts``,
   so the alert mart holds this very evaluation (it used to show the previous build's alerts).
4. **checkpoint**: :func:`expectations.marts.run_checkpoint` — GX suites over every mart; results in
   ``<warehouse>/gx/results/<run-id>.json``, Data Docs in ``<warehouse>/gx/data_docs/``.
5. **export**: only after a passed checkpoint, every ``main.mart_*`` table to
   ``<warehouse>/export/<mart>.parquet`` (each written beside and renamed into place), then
   ``export/_manifest.json`` (run id, as_of, row counts) last. Then the queued alerts are delivered
   (never for a build that failed: they stay queued for the next), and the report is written.

A failure at any stage raises :class:`BuildError` (``stage``, a message naming what failed and where
to look, ``log_tail`` for dbt, ``checkpoint`` for a failed checkpoint); a failed checkpoint leaves the
previous export untouched.

This module also runs as ``python -m junheng.build --warehouse DIR [--as-of D] [--catalogue C] [--json]``;
:func:`add_arguments` and :func:`cmd_build` are what the ``junheng`` CLI needs to offer the same.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from junheng import settings
from junheng.errors import UserError
from junheng.layout import WarehouseLayout
from junheng.warehouse_lock import WarehouseBusy, hold_warehouse

__all__ = ["BuildError", "BuildResult", "ExportedMart", "add_arguments", "build", "cmd_build", "main"]

#: Characters dbt-duckdb's profile path cannot hold: it parses the path as a URL (urlparse).
_URL_MARKS = "?#"
#: dbt output lines kept for the error message.
LOG_TAIL_LINES = 30


class BuildError(RuntimeError):
    """The build stopped. ``str(error)`` says at which stage, what failed and where to look."""

    def __init__(self, stage: str, message: str, *, log_tail: str | None = None, checkpoint: Any = None,
                 timings: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.log_tail = log_tail
        self.checkpoint = checkpoint
        self.timings = timings if timings is not None else {}


class BuildInputError(BuildError, UserError):
    """The build cannot start on what it was given (no landing, a path dbt cannot use): exit 2."""


@dataclass
class ExportedMart:
    path: str
    rows: int


@dataclass
class BuildResult:
    warehouse: str
    database: str
    as_of: str
    catalogue: str
    timings: dict[str, float]
    dbt: dict[str, int]
    checkpoint: Any
    exports: dict[str, ExportedMart] = field(default_factory=dict)
    manifest: str | None = None
    alerts: Any = None          # the AlertRun of the alert stage (None when it was off)
    report: str | None = None   # the report written from these marts (None when off)

    @property
    def success(self) -> bool:
        return True   # a build that did not succeed raised BuildError

    def summary(self) -> str:
        t = self.timings
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.dbt.items()))
        st = self.checkpoint.statistics
        lines = [
            f"build of {self.warehouse} passed in {t.get('total', 0):.1f} s "
            f"(as of {self.as_of}, catalogue {self.catalogue})",
            f"  seeds current ({t.get('seeds', 0):.1f} s)",
            f"  dbt build: {counts} ({t.get('dbt', 0):.1f} s)",
            f"  checkpoint {self.checkpoint.run_id}: {st['successful']} of {st['evaluated']} expectations met over "
            f"{st['suites']} marts ({t.get('checkpoint', 0):.1f} s)",
            f"  exported {len(self.exports)} marts, {sum(e.rows for e in self.exports.values()):,} rows, to "
            f"{WarehouseLayout(self.warehouse).export} ({t.get('export', 0):.1f} s)",
        ]
        if self.alerts is not None:
            a = self.alerts
            lines.append(f"  alerts: {len(a.firing)} firing ({len(a.fired)} new, {len(a.resolved)} resolved), "
                         f"{_delivery_words(a)} ({t.get('alerts', 0):.1f} s; mart_alerts {t.get('dbt_alerts', 0):.1f} s)")
        if self.report:
            lines.append(f"  report: {self.report} ({t.get('report', 0):.1f} s)")
        if self.checkpoint.summary_page:
            lines.append(f"  checkpoint summary: {self.checkpoint.summary_page}")
        if self.checkpoint.data_docs_index:
            lines.append(f"  Data Docs: {self.checkpoint.data_docs_index}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": True,
            "warehouse": self.warehouse,
            "database": self.database,
            "as_of": self.as_of,
            "catalogue": self.catalogue,
            "timings": self.timings,
            "dbt": self.dbt,
            "checkpoint": {
                "run_id": self.checkpoint.run_id,
                "success": self.checkpoint.success,
                "statistics": self.checkpoint.statistics,
                "results_path": self.checkpoint.results_path,
                "summary_page": self.checkpoint.summary_page,
                "data_docs_index": self.checkpoint.data_docs_index,
            },
            "exports": {k: {"path": v.path, "rows": v.rows} for k, v in self.exports.items()},
            "manifest": self.manifest,
            "alerts": None if self.alerts is None else {
                "firing": len(self.alerts.firing), "fired": len(self.alerts.fired),
                "resolved": len(self.alerts.resolved), "ok": self.alerts.ok,
                "deliveries": [d.as_dict() for d in self.alerts.deliveries], "errors": self.alerts.errors},
            "report": self.report,
        }


def _delivery_words(run: Any) -> str:
    """How the alerts went out, in words: to which channels, and whether every delivery worked."""
    if not run.deliveries:
        return "no receiver configured (JUNHENG_ALERTMANAGER_URL, JUNHENG_ALERT_WEBHOOK_URL)"
    failed = [d for d in run.deliveries if not d.ok]
    sent = ", ".join(sorted({d.channel for d in run.deliveries}))
    return f"delivered to {sent}" if not failed else \
        f"delivery FAILED to {', '.join(sorted({d.channel for d in failed}))} (kept queued for the next run)"


def _dbt_executable() -> str:
    found = shutil.which("dbt", path=str(Path(sys.executable).parent))
    if found is None:
        raise BuildError("dbt", f"dbt is not installed beside {sys.executable}: run scripts/bootstrap.sh "
                                "(dbt-core and dbt-duckdb are dependencies of the project)")
    return found


def _preload_gx() -> threading.Thread:
    """Import GX in the background while dbt runs in its subprocess (the import takes ~10 s)."""
    def target() -> None:
        try:
            import great_expectations  # noqa: F401
        except Exception:   # the checkpoint will import it again and report the error
            pass

    thread = threading.Thread(target=target, name="junheng-gx-import", daemon=True)
    thread.start()
    return thread


def build(warehouse: Path | str, as_of: dt.date | None = None, catalogue: str | None = None, *,
          project_dir: Path | str | None = None, echo: Callable[[str], object] | None = None,
          data_docs: bool = True, wait_s: float = 0.0, alerts: bool = True, report: bool = True) -> BuildResult:
    """Build the marts of ``warehouse`` from its landing files, check them, export them.

    ``as_of``: the date deadlines (D1–D3) are judged on (default: today). ``catalogue``: rules
    catalogue name or path (default ``$JUNHENG_CATALOGUE`` or qingdao-2021). ``project_dir``: the dbt
    project (default ``dbt_project/`` of this repository). ``echo``: called with each line dbt prints,
    for a live view. The build holds the warehouse's lock (junheng/warehouse_lock.py), waiting at
    most ``wait_s`` seconds for another command on it; raises :class:`BuildError`, or
    :class:`~junheng.warehouse_lock.WarehouseBusy` when the warehouse stays busy.

    ``alerts``: evaluate the alerts on the new marts and rebuild ``mart_alerts`` from them in the
    same build, so the marts, the alert state and the report agree (receivers from
    ``JUNHENG_ALERTMANAGER_URL`` / ``JUNHENG_ALERT_WEBHOOK_URL``; delivered only once the checkpoint
    passed). ``report``: write ``<warehouse>/report/index.html`` last.
    """
    warehouse = Path(warehouse).resolve()
    url_marks = sorted({c for c in str(warehouse) if c in _URL_MARKS})
    if url_marks:
        raise BuildInputError("dbt", f"the warehouse path {str(warehouse)!r} contains {' and '.join(map(repr, url_marks))}, "
                                "which dbt-duckdb reads as a URL's query or fragment (it would open another "
                                "database name): use a folder without them")
    landing = WarehouseLayout(warehouse).landing
    if not landing.is_dir():
        raise BuildInputError("landing", f"no landing folder at {landing}: land events first "
                                    f"(junheng run FILE --warehouse {warehouse})")
    with hold_warehouse(warehouse, wait_s):
        return _build(warehouse, as_of, catalogue, project_dir, echo, data_docs, alerts, report)


ALERT_MART = "mart_alerts"   # built from the alert history, after the alerts were evaluated on the other marts


def _build(warehouse: Path, as_of: dt.date | None, catalogue: str | None, project_dir: Path | str | None,
           echo: Callable[[str], object] | None, data_docs: bool, alerts: bool, report: bool) -> BuildResult:
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    project = Path(project_dir).resolve() if project_dir else settings.PROJECT_ROOT / "dbt_project"
    as_of = as_of or dt.date.today()
    catalogue_name = str(catalogue or settings.catalogue_name())
    if not (project / "dbt_project.yml").is_file():
        raise BuildError("dbt", f"no dbt project at {project}")

    # 1. the seeds are what the catalogue renders
    t = time.perf_counter()
    from rules import load_catalogue
    from rules.seeds import render, stale

    try:
        cat = load_catalogue(catalogue_name)
    except Exception as exc:
        raise BuildError("seeds", f"cannot load the rules catalogue {catalogue_name!r}: {exc}") from exc
    from ingestion.reference import districts_csv

    bad = stale(project / "seeds", render(cat, districts_csv()))
    timings["seeds"] = round(time.perf_counter() - t, 3)
    if bad:
        raise BuildError(
            "seeds",
            f"the dbt seeds in {project / 'seeds'} are stale for catalogue {catalogue_name}: {', '.join(bad)}. "
            f"The marts would compare against other numbers than the rules engine. Regenerate them with "
            f"`python -m rules.seeds {project / 'seeds'} --catalogue {catalogue_name}` and build again.",
            timings=timings)

    # 2. dbt build (GX imports meanwhile): every model but the alert mart
    gx_import = _preload_gx()
    t = time.perf_counter()
    try:
        dbt_counts = _run_dbt(project, warehouse, as_of, catalogue_name, echo, timings,
                              ["--exclude", ALERT_MART] if alerts else [])
    finally:
        timings["dbt"] = round(time.perf_counter() - t, 3)

    # 2b. the alerts on those marts (landed, queued, not yet delivered), then the alert mart
    pending = None
    if alerts:
        t = time.perf_counter()
        pending = _evaluate_alerts(warehouse, as_of)
        timings["alerts"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        try:
            for status, n in _run_dbt(project, warehouse, as_of, catalogue_name, echo, timings,
                                      ["--select", ALERT_MART]).items():
                dbt_counts[status] = dbt_counts.get(status, 0) + n
        except BuildError:
            pending.close()
            raise
        finally:
            timings["dbt_alerts"] = round(time.perf_counter() - t, 3)

    # 3. the checkpoint
    t = time.perf_counter()
    gx_import.join()
    from expectations.marts import CheckpointError, run_checkpoint

    try:
        checkpoint = run_checkpoint(warehouse, cat, data_docs=data_docs)
    except Exception as exc:   # CheckpointError, or GX failing to set up its context: no verdict
        timings["checkpoint"] = round(time.perf_counter() - t, 3)
        if pending is not None:
            pending.close()
        reason = str(exc) if isinstance(exc, CheckpointError) else f"{type(exc).__name__}: {exc}"
        raise BuildError("checkpoint", f"the marts checkpoint could not run, so nothing was exported: {reason}",
                         timings=timings) from exc
    timings["checkpoint"] = round(time.perf_counter() - t, 3)
    if not checkpoint.success:
        if pending is not None:
            pending.close()   # nothing delivered: the queued changes go out with the next good build
        n = len(checkpoint.failures)
        raise BuildError(
            "checkpoint",
            f"the marts were built but {n} expectation{'s' if n != 1 else ''} failed, so nothing was exported "
            f"(the previous export, if any, is unchanged):\n{checkpoint.message()}",
            checkpoint=checkpoint, timings=timings)

    # 4. export, deliver the alerts, write the report
    t = time.perf_counter()
    try:
        exports, manifest = _export(warehouse, as_of, catalogue_name, checkpoint.run_id)
    except BaseException:
        if pending is not None:
            pending.close()
        raise
    timings["export"] = round(time.perf_counter() - t, 3)
    alert_run = None
    if pending is not None:
        t = time.perf_counter()
        alert_run = pending.deliver()
        timings["alerts"] = round(timings.get("alerts", 0) + time.perf_counter() - t, 3)
    report_path = None
    if report:
        t = time.perf_counter()
        from junheng.report import write_report

        report_path = str(write_report(warehouse, None, as_of))
        timings["report"] = round(time.perf_counter() - t, 3)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    return BuildResult(
        warehouse=str(warehouse), database=str(WarehouseLayout(warehouse).database), as_of=as_of.isoformat(),
        catalogue=catalogue_name, timings=timings, dbt=dbt_counts, checkpoint=checkpoint, exports=exports,
        manifest=str(manifest), alerts=alert_run, report=report_path)


def _evaluate_alerts(warehouse: Path, as_of: dt.date) -> Any:
    """The alert stage: evaluate the freshly built marts (and the landed statuses), land the
    state changes, queue them for the receivers the environment names."""
    from streams.alerting.run import AlertConfig, env_alertmanager_url, env_webhook_url, evaluate

    return evaluate(warehouse, as_of=as_of, alertmanager_url=env_alertmanager_url(), webhook_url=env_webhook_url(),
                    kafka=False, config=AlertConfig.from_env())


def _run_dbt(project: Path, warehouse: Path, as_of: dt.date, catalogue: str,
             echo: Callable[[str], object] | None, timings: dict[str, float],
             selection: Sequence[str] = ()) -> dict[str, int]:
    """``dbt build`` of `project` into the warehouse (`selection`: e.g. ``["--select", "mart_alerts"]``)."""
    dbt = _dbt_executable()
    layout = WarehouseLayout(warehouse)
    target, logs = layout.dbt_target, layout.dbt_logs
    env = dict(os.environ, JUNHENG_WAREHOUSE=str(warehouse), JUNHENG_CATALOGUE=catalogue,
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false")
    cmd = [dbt, "build", "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(target), "--log-path", str(logs),
           "--vars", json.dumps({"as_of": as_of.isoformat()}), *selection]
    results_file = target / "run_results.json"
    started = time.time()
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
    try:
        proc = subprocess.Popen(dies_with_parent(cmd), cwd=str(settings.PROJECT_ROOT), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                errors="replace")
    except OSError as exc:
        raise BuildError("dbt", f"could not start {dbt}: {exc}", timings=timings) from exc
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = _ANSI.sub("", line.rstrip("\n"))
            tail.append(line)
            if echo is not None:
                echo(line)
    results = _run_results(results_file, started)
    counts = collections.Counter(r.get("status", "?") for r in results)
    if proc.returncode == 0:
        return dict(counts)

    log_tail = "\n".join(tail)
    failed = [r for r in results if r.get("status") in ("error", "fail", "runtime error")]
    lines = [f"dbt build failed (exit {proc.returncode})"
             + (f": {len(failed)} of {len(results)} nodes failed" if results else " before running any node")]
    for r in failed[:15]:
        message = " ".join(str(r.get("message") or "").split())
        lines.append(f"  - {r.get('unique_id')}: {r.get('status')}: {message[:300]}")
    if len(failed) > 15:
        lines.append(f"  … and {len(failed) - 15} more (see {results_file})")
    said = _error_lines(tail)
    if said:
        lines.append("dbt reported:")
        lines.extend(f"  {line}" for line in said)
    if "Could not set lock on file" in log_tail or "Conflicting lock" in log_tail:
        lines.append(f"  {layout.database} is open in another process (a BI tool or a notebook?): "
                     "DuckDB allows one writer or many readers, not both (docs/marts.md).")
    lines.append(f"last lines of dbt's output (full log: {logs / 'dbt.log'}):")
    lines.append(log_tail)
    raise BuildError("dbt", "\n".join(lines), log_tail=log_tail, timings=timings)


#: Run in a fresh interpreter between fork and dbt: ask the kernel for SIGKILL when the parent
#: dies (Linux prctl PR_SET_PDEATHSIG = 1; it survives the exec), give up if the parent is already
#: gone, then exec the command. A separate process rather than a preexec_fn, which is not safe
#: while other threads run (the GX import runs in one meanwhile).
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(137)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def dies_with_parent(cmd: Sequence[str]) -> list[str]:
    """``cmd`` wrapped so the child is killed with this process: a ``junheng build`` killed by
    SIGKILL (or OOM) must not leave dbt running on, holding the DuckDB file's write lock so the
    next build, or any writer, fails to open it. Linux only (elsewhere ``cmd`` as it is)."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    exe = shutil.which(cmd[0]) or cmd[0]
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), exe, *cmd[1:]]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE = re.compile(r"(Error|ERROR|Exception|error:|Failure in|Compilation Error|Runtime Error)")


def _error_lines(tail: Sequence[str], keep: int = 6) -> list[str]:
    """The lines of dbt's output that state an error (not traceback frames), last ``keep``, once each."""
    out: list[str] = []
    for line in tail:
        text = line.strip()
        if not text or text.startswith(("File \"", "^", "Traceback")) or not _ERROR_LINE.search(text):
            continue
        if text not in out:
            out.append(text)
    return out[-keep:]


def _run_results(path: Path, since: float) -> list[dict[str, Any]]:
    """The node results of this run's run_results.json (none if dbt did not get to write it)."""
    try:
        if path.stat().st_mtime < since - 1:
            return []
        return list(json.loads(path.read_text(encoding="utf-8")).get("results") or [])
    except (OSError, ValueError):
        return []


def _export(warehouse: Path, as_of: dt.date, catalogue: str, run_id: str) -> tuple[dict[str, ExportedMart], Path]:
    import duckdb

    layout = WarehouseLayout(warehouse)
    folder = layout.export
    folder.mkdir(parents=True, exist_ok=True)
    exports: dict[str, ExportedMart] = {}
    tmp_files: list[Path] = []
    try:
        con = duckdb.connect(str(layout.database), read_only=True)
        try:
            marts = [r[0] for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main' "
                "and table_name like 'mart\\_%' escape '\\' order by table_name").fetchall()]
            # every file first beside its final name, then all renamed: a reader never sees half a
            # file, and a failure part-way leaves the previous export as it was
            for mart in marts:
                tmp = folder / f".{mart}.parquet.tmp-{os.getpid()}"
                tmp_files.append(tmp)
                escaped = str(tmp).replace("'", "''")
                con.execute(f"copy (select * from main.\"{mart}\") to '{escaped}' (format parquet, compression zstd)")
                (rows,) = con.execute(f"select count(*) from main.\"{mart}\"").fetchone() or (0,)
                exports[mart] = ExportedMart(str(folder / f"{mart}.parquet"), int(rows))
        finally:
            con.close()
        for mart, tmp in zip(exports, tmp_files):
            os.replace(tmp, exports[mart].path)
        manifest = layout.export_manifest
        document = {
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "as_of": as_of.isoformat(),
            "catalogue": catalogue,
            "checkpoint_run_id": run_id,
            "marts": {k: {"file": Path(v.path).name, "rows": v.rows} for k, v in exports.items()},
        }
        tmp = folder / f".{manifest.name}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, manifest)
    except (OSError, duckdb.Error) as exc:
        raise BuildError("export", f"exporting the marts to {folder} failed: {exc}") from exc
    finally:
        for tmp in tmp_files:
            tmp.unlink(missing_ok=True)
    return exports, manifest


# -- command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--warehouse", default=str(settings.default_warehouse()),
                        help="the folder holding landing/ (default: $JUNHENG_WAREHOUSE or ./warehouse)")
    parser.add_argument("--as-of", help="judge deadlines on this date, YYYY-MM-DD (default: today)")
    parser.add_argument("--catalogue", help="rules catalogue name or path (default: $JUNHENG_CATALOGUE or qingdao-2021)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--quiet", action="store_true", help="do not echo dbt's output")
    parser.add_argument("--no-alerts", action="store_true",
                        help="skip the alert stage (evaluation, mart_alerts from it, delivery)")
    parser.add_argument("--no-report", action="store_true", help="do not write the report")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for another command on the warehouse to finish (default: refuse at once)")
    return parser


def cmd_build(args: argparse.Namespace) -> int:
    """Run :func:`build` for parsed arguments; 0 on success, 1 with the failure on stderr."""
    from junheng.terminal import json_line, plain

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    quiet = bool(getattr(args, "quiet", False) or getattr(args, "json", False))
    echo = None if quiet else (lambda line: print(line, flush=True))
    try:
        result = build(Path(args.warehouse), as_of=as_of, catalogue=args.catalogue, echo=echo,
                       wait_s=getattr(args, "wait", 0.0), alerts=not getattr(args, "no_alerts", False),
                       report=not getattr(args, "no_report", False))
    except WarehouseBusy as exc:
        print(f"junheng build: {exc}", file=sys.stderr)
        return 2
    except BuildError as exc:
        if getattr(args, "json", False):
            print(json_line({"success": False, "stage": exc.stage, "error": str(exc), "timings": exc.timings,
                             "checkpoint_results": getattr(exc.checkpoint, "results_path", None)}))
        print(f"junheng build failed at {exc.stage}: {plain(exc, lines=True)}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, UserError) else 1
    if getattr(args, "json", False):
        print(json_line(result.to_dict()))
    else:
        print(result.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(
        prog="python -m junheng.build", description="dbt build, marts checkpoint, Parquet export"))
    return cmd_build(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
