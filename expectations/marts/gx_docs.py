"""GX's Data Docs for a marts checkpoint evaluated in SQL (expectations/marts/sql.py).

GX is the report format here, not the engine: each suite's outcomes become GX validation results
(``ExpectationSuiteValidationResult``, one per mart and run), stored in the file-backed GX project
under ``<warehouse>/gx`` and rendered by GX's own site builder -- the same pages as when GX computed
them. Importing GX takes ~10 s, so a build that wants a fast checkpoint passes ``data_docs=False``
and keeps the summary page and the results JSON, which do not need GX.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from expectations.marts.checkpoint import DATA_DOCS_DIR, CheckpointError, MartSuite, _plain

__all__ = ["DATASOURCE_NAME", "SITE_NAME", "write"]

SITE_NAME = "junheng_marts"
DATASOURCE_NAME = "junheng_marts"
_LOCK = threading.Lock()  # one checkpoint at a time per process: the GX context is not thread-safe


def write(
    warehouse: Path,
    run_id: str,
    started: dt.datetime,
    suites: Sequence[MartSuite],
    outcomes: Mapping[str, Any],
    parameters: Mapping[str, Any],
    keep_runs: int,
    database: str,
    scope: str,
) -> str:
    """Store this run's results in GX's format, prune old runs, build the Data Docs; the index path."""
    with _LOCK:
        context = _prepare_context(warehouse, suites)
        from great_expectations.core.run_identifier import RunIdentifier

        run = RunIdentifier(run_name=run_id, run_time=started)
        for s in suites:
            if s.name in outcomes:
                _store(context, s, outcomes[s.name], parameters, run, database, scope)
        docs_dir = Path(context.root_directory) / DATA_DOCS_DIR
        _prune(context, docs_dir, keep_runs)
        return _build_data_docs(context, run_id, [s.name for s in suites])


def _prepare_context(warehouse: Path, suites: Sequence[MartSuite]) -> Any:
    """The file-backed GX context in ``<warehouse>/gx`` with our Data Docs site and the suites,
    rewritten from the JSON suites (the JSON files are the source; ``gx/expectations/`` a copy)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(warehouse))
    configured: Any = context.variables.progress_bars
    bars: Mapping[str, Any] = (
        configured if isinstance(configured, Mapping) else vars(configured) if configured is not None else {}
    )
    if bars.get("globally") is not False or bars.get("metric_calculations") is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
    site: Any = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": f"{DATA_DOCS_DIR}/"},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = context.list_data_docs_sites()
    if "local_site" in sites:  # the scaffold's default site, in uncommitted/: ours replaces it
        context.delete_data_docs_site("local_site")
    if SITE_NAME not in sites:
        context.add_data_docs_site(SITE_NAME, site)
    elif sites[SITE_NAME] != site:
        context.update_data_docs_site(SITE_NAME, site)
    for s in suites:
        expectations = s.expectations
        suite = gx.ExpectationSuite(name=s.name, expectations=expectations, meta=dict(s.document.get("meta") or {}))
        # ExpectationSuite() logs and DROPS an expectation it cannot build (unknown type, bad
        # kwargs) instead of raising: a suite silently missing a check is worse than none.
        if len(suite.expectations) != len(expectations):
            raise CheckpointError(
                f"suite {s.name}: GX accepted {len(suite.expectations)} of {len(expectations)} "
                "expectations (see the GX log for the invalid one)"
            )
        context.suites.add_or_update(suite)
    return context


def _store(
    context: Any, suite: MartSuite, outcome: Any, parameters: Mapping[str, Any], run: Any, database: str, scope: str
) -> None:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    batch_id = f"{DATASOURCE_NAME}-{suite.mart}"
    results = []
    for o in outcome.outcomes:
        config = ExpectationConfiguration(
            type=o.type,
            kwargs={**_plain(o.kwargs), "batch_id": batch_id},
            meta=dict(o.config.get("meta") or {}),
            description=o.config.get("description"),
        )
        info = {"raised_exception": o.error is not None, "exception_message": o.error, "exception_traceback": None}
        results.append(
            ExpectationValidationResult(
                success=o.success, expectation_config=config, result=_plain(o.result()), exception_info=info
            )
        )
    evaluated = len(results)
    ok = sum(1 for r in results if r.success)
    validation = ExpectationSuiteValidationResult(
        success=ok == evaluated,
        results=results,
        suite_name=suite.name,
        suite_parameters=_plain(dict(parameters)),
        statistics={
            "evaluated_expectations": evaluated,
            "successful_expectations": ok,
            "unsuccessful_expectations": evaluated - ok,
            "success_percent": 100.0 * ok / evaluated if evaluated else None,
        },
        meta={
            "active_batch_definition": {
                "datasource_name": DATASOURCE_NAME,
                "data_connector_name": "duckdb_sql",
                "data_asset_name": suite.mart,
                "batch_identifiers": {"scope": scope},
            },
            "batch_spec": {
                "data_asset_name": suite.mart,
                "database": database,
                "table": f"main.{suite.mart}",
                "engine": "DuckDB SQL",
                "rows": scope,
            },
            "run_id": run.to_json_dict(),
            "validation_time": run.run_time.isoformat(),
        },
        batch_id=batch_id,
    )
    key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name=suite.name), run, batch_id)
    context.validation_results_store.set(key, validation)


def _prune(context: Any, docs_dir: Path, keep_runs: int) -> None:
    """Remove GX's validation results, and their Data Docs pages, of all but the newest runs."""
    store = context.validation_results_store
    runs: dict[str, list[Any]] = {}
    for key in store.list_keys():
        runs.setdefault(str(key.run_id.run_name), []).append(key)
    if len(runs) <= keep_runs:
        return

    def newest(name: str) -> str:
        times = [k.run_id.run_time for k in runs[name] if k.run_id.run_time is not None]
        return max(times).isoformat() if times else name

    base = getattr(store.store_backend, "full_base_directory", None)
    for name in sorted(runs, key=newest, reverse=True)[max(keep_runs, 1) :]:
        for key in runs[name]:
            store.remove_key(key)
            suite = key.expectation_suite_identifier.name
            page_dir = docs_dir / "validations" / suite / name
            if page_dir.is_dir():
                shutil.rmtree(page_dir, ignore_errors=True)
            # GX leaves the emptied <suite>/<run>/<time>/ folders of its store behind
            run_dir = Path(base) / suite / name if base else None
            if run_dir is not None and run_dir.is_dir() and not any(p.is_file() for p in run_dir.rglob("*")):
                shutil.rmtree(run_dir, ignore_errors=True)


def _build_data_docs(context: Any, run_id: str, suite_names: Sequence[str]) -> str:
    """Render this run's validation pages, the suites' pages and the index (GX's incremental
    build: older runs' pages stay as they are)."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    store = context.validation_results_store
    ids: list[Any] = [k for k in store.list_keys() if getattr(k.run_id, "run_name", None) == run_id]
    ids += [ExpectationSuiteIdentifier(name=n) for n in suite_names]
    urls = context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=ids)
    index = Path(context.root_directory) / DATA_DOCS_DIR / "index.html"
    if not index.is_file():
        raise CheckpointError(f"GX reported {urls} but wrote no {index}")
    return str(index)
