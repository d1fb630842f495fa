"""One build, from the landing to the published marts: the code `junheng build`, `junheng run`
(after landing) and `junheng serve` (at each landing change) all run.

1. **seeds**: the seeds the catalogue and the district list render (the warehouse's jurisdiction,
   recorded in ``<warehouse>/jurisdiction.json``) are written into the warehouse's own dbt project,
   ``<warehouse>/work/dbt_project`` (the package's models, macros, … copied: junheng/build/project.py);
   dbt runs there, so the package's ``dbt_project/`` is only read.
2. **plan**: :func:`junheng.incremental.make_plan` with what the working database holds (the plan
   state recorded when it was last published, or None: a full rebuild).
3. **dbt**: ``dbt build`` into the working database, as a subprocess (junheng/build/dbt.py: a
   fresh one, or the warm one `junheng serve` keeps); GX is imported in a background thread meanwhile.
4. **alerts**: evaluated on those marts (and the landed district statuses), their state changes
   landed in ``landing/alert_events`` and queued. ``mart_alerts`` is a view over that history, so
   it holds this very evaluation without a second dbt run (one was ~20 s under load); only the
   build that lands the first history file runs ``dbt build --select mart_alerts`` again, since
   the view was made while there was nothing to read (the empty relation).
5. **checkpoint**: :func:`expectations.marts.run_checkpoint` on the working database.
6. **publish**: the marts copied into a new immutable version, made current in one rename
   (junheng/build/publish.py), the Parquet export with it.
7. the queued alerts are delivered (only now: a build that published nothing delivers nothing;
   its changes stay queued for the next), and the report is written: rendered from the checked
   marts while stage 6 publishes them (junheng/build/report_stage.py), placed once they are.

The warehouse lock is held throughout. A failure at any stage raises :class:`BuildError`; nothing
is published before stage 6, so the marts readers open stay the last good ones.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any, Callable

from junheng import settings
from junheng.build.busy import check_writable
from junheng.build.dbt import run_dbt
from junheng.build.dbt_session import DbtSession
from junheng.build.errors import BuildCancelled, BuildError, BuildInputError
from junheng.build.landing import watermark
from junheng.build.publish import PublishError, current_version, publish
from junheng.build.report_stage import ReportDraft
from junheng.build.result import BuildResult
from junheng.build import working
from junheng.layout import WarehouseLayout
from junheng.warehouse_lock import hold_warehouse

__all__ = ["ALERT_MART", "build"]

#: Characters dbt-duckdb's profile path cannot hold: it parses the path as a URL (urlparse).
_URL_MARKS = "?#"
ALERT_MART = "mart_alerts"   # a view over the alert history, which the alert stage lands after dbt


def build(warehouse: Path | str, as_of: dt.date | None = None, catalogue: str | None = None, *,
          project_dir: Path | str | None = None, echo: Callable[[str], object] | None = None,
          data_docs: bool = True, wait_s: float = 0.0, alerts: bool = True, report: bool = True,
          keep: int | None = None, cancel: threading.Event | None = None,
          dbt_session: DbtSession | None = None) -> BuildResult:
    """Build the marts of ``warehouse`` from its landing files, check them, publish them.

    ``as_of``: the date deadlines (D1–D3) are judged on (default: today). ``catalogue``: rules
    catalogue name or path (default ``$JUNHENG_CATALOGUE`` or qingdao-2021). ``project_dir``: the dbt
    project copied into the warehouse (default the package's ``dbt_project/``; only read, its seeds
    ignored: they are rendered for the warehouse's catalogue and ``$JUNHENG_DISTRICTS``). ``echo``: called with each line dbt prints.
    The build holds the warehouse's lock (junheng/warehouse_lock.py), waiting at most ``wait_s``
    seconds for another command on it; raises :class:`BuildError`, or
    :class:`~junheng.warehouse_lock.WarehouseBusy` when the warehouse stays busy.

    ``alerts``: evaluate the alerts on the new marts and rebuild ``mart_alerts`` from them in the
    same build (delivered once published). ``report``: write ``<warehouse>/report/index.html`` from
    the published marts. ``keep``: published versions kept (default ``$JUNHENG_PUBLISHED_KEEP``).
    ``cancel``: when set, the build stops at the next stage (dbt is terminated) and publishes nothing.
    ``dbt_session``: run dbt in this warm process instead of a fresh one (junheng/build/dbt_session.py).
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
    if keep is None:
        try:
            keep = settings.BuildSettings.from_env().keep_published
        except ValueError as exc:
            raise BuildInputError("publish", str(exc)) from None
    with hold_warehouse(warehouse, wait_s):
        return _Build(warehouse, as_of, catalogue, project_dir, echo, data_docs, alerts, report, keep, cancel,
                      dbt_session).run()


class _Build:
    """The stages of one build, sharing its timings and its pending alerts."""

    def __init__(self, warehouse: Path, as_of: dt.date | None, catalogue: str | None, project_dir: Path | str | None,
                 echo: Callable[[str], object] | None, data_docs: bool, alerts: bool, report: bool,
                 keep: int | None, cancel: threading.Event | None, dbt_session: DbtSession | None) -> None:
        self.warehouse = warehouse
        self.layout = WarehouseLayout(warehouse)
        self.as_of = as_of or dt.date.today()
        self.catalogue_name = str(catalogue or settings.catalogue_name())
        # the package's dbt project, only read; dbt runs in the warehouse's copy (self.project)
        self.source = Path(project_dir).resolve() if project_dir else settings.PROJECT_ROOT / "dbt_project"
        self.project = self.layout.dbt_project
        self.jurisdiction: Any = None
        self.echo = echo
        self.data_docs = data_docs
        self.alerts = alerts
        self.report = report
        self.keep = keep if keep is not None else 3
        self.cancel = cancel
        self.dbt_session = dbt_session
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self.pending: Any = None

    def run(self) -> BuildResult:
        t_start = time.perf_counter()
        try:
            return self._run(t_start)
        except BaseException:
            if self.pending is not None:
                self.pending.close()   # nothing delivered: the queued changes go out with the next good build
            raise

    def _stage(self, name: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise BuildCancelled(name, f"the build was cancelled before {name}: nothing was published",
                                 timings=self.timings)

    def _run(self, t_start: float) -> BuildResult:
        if not (self.source / "dbt_project.yml").is_file():
            raise BuildError("dbt", f"no dbt project at {self.source}")
        cat = self._render_seeds()

        # the plan, from what the working database holds; it is untrusted from here until published
        from junheng.incremental import make_plan

        database = self.layout.working_database
        self.layout.work.mkdir(parents=True, exist_ok=True)
        published_before = current_version(self.layout)
        previous = working.previous_state(self.layout, published_before, self.notes)
        self._prepare_working(database)
        plan = make_plan(self.layout, previous, project_dir=self.project)
        landed = watermark(self.layout)   # before dbt reads the landing: what this build surely includes
        working.forget(self.layout)

        self._stage("dbt")
        gx_import = _preload_gx()
        had_history = _has_alert_history(self.layout)
        t = time.perf_counter()
        try:
            dbt_counts = self._dbt(database, plan, [])
        finally:
            self.timings["dbt"] = round(time.perf_counter() - t, 3)

        if self.alerts:
            self._stage("alerts")
            t = time.perf_counter()
            self.pending = _evaluate_alerts(self.warehouse, self.as_of, database)
            self.timings["alerts"] = round(time.perf_counter() - t, 3)
            if not had_history and _has_alert_history(self.layout):   # the view was made empty
                t = time.perf_counter()
                try:
                    for status, n in self._dbt(database, plan, ["--select", ALERT_MART]).items():
                        dbt_counts[status] = dbt_counts.get(status, 0) + n
                finally:
                    self.timings["dbt_alerts"] = round(time.perf_counter() - t, 3)

        self._stage("checkpoint")
        checkpoint = self._checkpoint(cat, database, plan, gx_import)

        self._stage("publish")
        # the page is rendered from the checked marts while they are published (report_stage.py)
        draft = ReportDraft.start(self.warehouse, self.as_of, database) if self.report else None
        try:
            published = self._publish(database, plan, checkpoint, landed, dbt_counts)
        except BaseException:
            if draft is not None:
                draft.discard()
            raise

        try:
            alert_run = self._deliver()
            report_path = self._report(published, draft)
        finally:
            if draft is not None:   # whatever failed, nothing reads the working database after the build
                draft.discard()
        self.timings["total"] = round(time.perf_counter() - t_start, 3)
        return BuildResult(
            warehouse=str(self.warehouse), database=str(published.database), as_of=self.as_of.isoformat(),
            catalogue=self.catalogue_name, timings=self.timings, dbt=dbt_counts, checkpoint=checkpoint,
            exports=published.exports, manifest=str(published.export_manifest), alerts=alert_run,
            report=report_path, published=published, plan=plan, notes=self.notes,
            jurisdiction=self.jurisdiction.as_dict(), project=str(self.project))

    # ------------------------------------------------------------------ stages
    def _publish(self, database: Path, plan: Any, checkpoint: Any, landed: Any, dbt_counts: dict[str, int]) -> Any:
        t = time.perf_counter()
        info = {"as_of": self.as_of.isoformat(), "catalogue": self.catalogue_name,
                "jurisdiction": self.jurisdiction.as_dict(),
                "checkpoint_run_id": checkpoint.run_id,
                "plan": {"full_refresh": plan.full_refresh, "reason": plan.reason, "state": plan.state},
                "landing": landed, "dbt": dbt_counts}
        try:
            published = publish(self.layout, database, info, keep=self.keep)
        except PublishError as exc:
            exc.timings = self.timings
            raise
        self.timings.update(published.timings)
        self.timings.pop("switch", None)
        self.timings["publish"] = round(time.perf_counter() - t - published.timings.get("export", 0), 3)
        working.record(self.layout, published.version, plan.state)
        return published

    def _render_seeds(self) -> Any:
        """The warehouse's dbt project (junheng/build/project.py): the package's, with the seeds the
        catalogue and the district list render; the jurisdiction recorded. Returns the catalogue."""
        t = time.perf_counter()
        from ingestion.jurisdiction import Jurisdiction, JurisdictionError, record
        from ingestion.reference import districts_csv
        from junheng.build.project import prepare
        from rules import load_catalogue
        from rules.seeds import render

        try:
            cat = load_catalogue(self.catalogue_name)
        except Exception as exc:
            raise BuildInputError("seeds", f"cannot load the rules catalogue {self.catalogue_name!r}: {exc}") from exc
        try:
            self.jurisdiction = Jurisdiction.current(self.catalogue_name, loaded=cat)
            files = render(cat, districts_csv())
        except (JurisdictionError, OSError, KeyError, ValueError) as exc:
            what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, JurisdictionError) else str(exc)
            raise BuildInputError("seeds", f"cannot render the seeds for the district list {districts_csv()} "
                                           f"(JUNHENG_DISTRICTS): {what}") from None
        self.project, changed = prepare(self.source, self.layout, files)
        note = record(self.layout, self.jurisdiction, by="junheng build")
        if note:
            self.notes.append(note)
        self.timings["seeds"] = round(time.perf_counter() - t, 3)
        return cat

    def _prepare_working(self, database: Path) -> None:
        """dbt must be able to write the working database: another process holding it is named
        (one line, exit 2); a file DuckDB cannot open is set aside for a fresh one."""
        import duckdb

        if not database.exists():
            return
        try:
            check_writable(database, self.layout.database)
        except duckdb.Error:
            note = working.set_aside_if_unreadable(self.layout)
            if note:
                self.notes.append(note)

    def _dbt(self, database: Path, plan: Any, selection: list[str]) -> dict[str, int]:
        return run_dbt(self.project, self.warehouse, database, self.as_of, self.catalogue_name, self.echo,
                       self.timings, selection, dbt_args=plan.dbt_args, dbt_vars=plan.dbt_vars, cancel=self.cancel,
                       session=self.dbt_session)

    def _checkpoint(self, cat: Any, database: Path, plan: Any, gx_import: threading.Thread) -> Any:
        t = time.perf_counter()
        gx_import.join()
        from expectations.marts import CheckpointError, run_checkpoint

        try:
            checkpoint = run_checkpoint(self.warehouse, cat, database=database, plan=plan, data_docs=self.data_docs)
        except Exception as exc:   # CheckpointError, or GX failing to set up its context: no verdict
            self.timings["checkpoint"] = round(time.perf_counter() - t, 3)
            reason = str(exc) if isinstance(exc, CheckpointError) else f"{type(exc).__name__}: {exc}"
            raise BuildError("checkpoint", f"the marts checkpoint could not run, so nothing was published: {reason}",
                             timings=self.timings) from exc
        self.timings["checkpoint"] = round(time.perf_counter() - t, 3)
        if not checkpoint.success:
            n = len(checkpoint.failures)
            raise BuildError(
                "checkpoint",
                f"the marts were built but {n} expectation{'s' if n != 1 else ''} failed, so nothing was published "
                f"(readers keep the previous marts and export, if any):\n{checkpoint.message()}",
                checkpoint=checkpoint, timings=self.timings)
        return checkpoint

    def _deliver(self) -> Any:
        """The alerts this build queued, delivered now that its marts are published."""
        if self.pending is None:
            return None
        t = time.perf_counter()
        pending, self.pending = self.pending, None
        alert_run = pending.deliver()
        self.timings["alerts"] = round(self.timings.get("alerts", 0) + time.perf_counter() - t, 3)
        return alert_run

    def _report(self, published: Any, draft: ReportDraft | None) -> str | None:
        if draft is None:
            return None
        try:
            path, waited = draft.place(published.version)
        except BuildError as exc:
            exc.timings = self.timings
            raise
        finally:
            self.timings["report"] = round(draft.seconds, 3)
        self.timings["report_wait"] = round(waited, 3)
        return path


def _has_alert_history(layout: WarehouseLayout) -> bool:
    """Whether an alert history file has landed: what ``mart_alerts``' view reads (the
    ``landing`` macro's glob; a file being written starts with a dot)."""
    from junheng.alerting.history import TABLE

    return any(layout.landing_table(TABLE).glob("part-*.parquet"))


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


def _evaluate_alerts(warehouse: Path, as_of: dt.date, database: Path) -> Any:
    """The alert stage: evaluate the freshly built marts of the working database (and the landed
    statuses), land the state changes, queue them for the receivers the environment names."""
    from junheng.alerting.run import AlertConfig, env_alertmanager_url, env_webhook_url, evaluate

    return evaluate(warehouse, as_of=as_of, alertmanager_url=env_alertmanager_url(), webhook_url=env_webhook_url(),
                    kafka=False, config=AlertConfig.from_env(duckdb_path=database))
