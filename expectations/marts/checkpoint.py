"""The marts checkpoint: the GX 1.x suites of every mart, evaluated as SQL on DuckDB.

``run_checkpoint(warehouse)`` evaluates each suite of ``suites/<mart>.json`` on its mart in the
working database (read-only) with :mod:`expectations.marts.sql`: one scan per mart for its row-level
expectations, a ``group by`` per uniqueness expectation, examples only for what fails -- nothing is
read into pandas. After an incremental build (``plan``), the marts a build changes by district-year
(a suite's ``meta.junheng.partition``) are checked on the changed district-years only
(``incremental.changed_districts``); the rest of them was checked when it was built. Side effects,
under ``<warehouse>/gx/``:

- ``results/<run-id>.json`` — this module's summary of the run (the :class:`CheckpointResult`);
- ``data_docs/latest.html`` — this run on one self-contained page;
- with ``data_docs=True``: GX's own Data Docs site (``data_docs/index.html``, a page per suite and
  per validation), rendered from the same results by :mod:`expectations.marts.gx_docs`, and the
  file-backed GX project it needs (``great_expectations.yml``, the suites, and in
  ``uncommitted/validations/`` the validation results in GX's format). GX (~10 s to import) is
  loaded only then.

The suites are declarative GX 1.x ``ExpectationSuite`` JSON. Their ``meta.junheng`` says which mart
they check, its key (the columns failing rows are reported by), ``derived_columns`` (SQL expressions
added to the mart's columns: ``len(failed_items)`` of a list column, ``cv / threshold``) and
``partition`` (the district and year columns when the mart is rebuilt by district-year). Values
that come from the rules catalogue (R1–R7, the thresholds, RA-S's ``min_met``, C1's milestones) are
GX suite parameters (``{"$PARAMETER": name}``) filled in from the catalogue by
:func:`catalogue_parameters`, so a bureau that changes its catalogue does not edit the suites.
Why SQL of our own rather than GX's SQL data source: docs/data-quality.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from expectations.marts.sql import sql_literal
from junheng.layout import WarehouseLayout

__all__ = [
    "CheckpointError",
    "CheckpointResult",
    "FailedExpectation",
    "MartSuite",
    "SuiteStatistics",
    "SUITES_DIR",
    "catalogue_parameters",
    "changed_districts",
    "changed_rows_sql",
    "changed_scope",
    "load_mart_suites",
    "read_mart",
    "run_checkpoint",
]

SUITES_DIR = Path(__file__).with_name("suites")
#: relative to GX's file context root (<warehouse>/gx, WarehouseLayout.gx_data_docs)
DATA_DOCS_DIR = "data_docs"
#: How many failing values / keys a result keeps per failed expectation.
EXAMPLES = 10
#: GX validation results (and their Data Docs pages) kept, in runs; the JSON summaries in
#: gx/results/ are small and all kept.
KEEP_RUNS = 100
#: DuckDB's memory for the checkpoint's queries: beyond it they spill to disk (a national mart's
#: uniqueness check groups millions of keys)
MEMORY_LIMIT = "1GB"

_COLUMN_KWARGS = ("column", "column_A", "column_B")


class CheckpointError(RuntimeError):
    """The checkpoint could not run at all (no warehouse file, a suite GX does not accept, …).

    A mart that fails its expectations is not an error: it is a :class:`CheckpointResult` with
    ``success = False``.
    """


# -- suites ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MartSuite:
    """A suite as stored in ``suites/<mart>.json``."""

    name: str
    mart: str
    key: tuple[str, ...]
    derived_columns: Mapping[str, str]
    document: Mapping[str, Any]
    path: Path
    #: (district column, year column) when a build replaces the mart's rows by district-year
    partition: tuple[str, str] | None = None

    @property
    def expectations(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.document["expectations"]]

    def parameters(self) -> set[str]:
        """Names of the suite parameters (``{"$PARAMETER": name}``) its expectations use."""
        found: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, Mapping):
                if set(value) == {"$PARAMETER"}:
                    found.add(str(value["$PARAMETER"]))
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        for e in self.document["expectations"]:
            walk(e.get("kwargs", {}))
        return found

    def columns(self) -> set[str]:
        """The columns the expectations name (row conditions included)."""
        found: set[str] = set()
        for e in self.document["expectations"]:
            kwargs = e.get("kwargs", {})
            found.update(str(kwargs[k]) for k in _COLUMN_KWARGS if k in kwargs)
            found.update(str(c) for c in kwargs.get("column_list") or [])
            if e["type"] == "expect_table_columns_to_match_set":
                found.update(str(c) for c in kwargs.get("column_set") or [])
            found.update(_condition_columns(kwargs.get("row_condition")))
        return found


def _condition_columns(condition: Any) -> set[str]:
    if not isinstance(condition, Mapping):
        return set()
    out = set()
    if isinstance(condition.get("column"), Mapping):
        out.add(str(condition["column"]["name"]))
    for c in condition.get("conditions") or []:
        out |= _condition_columns(c)
    return out


def load_mart_suites(directory: Path | str = SUITES_DIR) -> list[MartSuite]:
    """Read and sanity-check every ``*.json`` suite in ``directory``, sorted by name."""
    directory = Path(directory)
    suites = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path}: not valid JSON ({exc})") from exc
        name = document.get("name")
        if name != path.stem:
            raise CheckpointError(f"{path.name}: suite name {name!r} does not match the file name")
        meta = (document.get("meta") or {}).get("junheng") or {}
        mart = meta.get("mart")
        if mart != name:
            raise CheckpointError(f"{path.name}: meta.junheng.mart must name the mart the suite checks ({name})")
        key = meta.get("key")
        if not isinstance(key, list) or not key:
            raise CheckpointError(f"{path.name}: meta.junheng.key must list the mart's key columns")
        derived = meta.get("derived_columns") or {}
        if not isinstance(derived, Mapping):
            raise CheckpointError(f"{path.name}: meta.junheng.derived_columns must map a column name to SQL")
        partition = meta.get("partition")
        if partition is not None and not (isinstance(partition, list) and len(partition) == 2):
            raise CheckpointError(f"{path.name}: meta.junheng.partition must be [district column, year column]")
        expectations = document.get("expectations")
        if not isinstance(expectations, list) or not expectations:
            raise CheckpointError(f"{path.name}: 'expectations' must be a non-empty list")
        for i, e in enumerate(expectations):
            if not isinstance(e, Mapping) or not isinstance(e.get("type"), str):
                raise CheckpointError(f"{path.name}: expectation {i} has no type")
        suites.append(
            MartSuite(name, mart, tuple(key), dict(derived), document, path, tuple(partition) if partition else None)
        )
    if not suites:
        raise CheckpointError(f"no suite in {directory}")
    return suites


def catalogue_parameters(catalogue: Any = None) -> dict[str, Any]:
    """The suite parameters taken from the rules catalogue (a name, a path, a Catalogue or None for
    ``$JUNHENG_CATALOGUE`` / qingdao-2021): the same numbers the seeds carry into the SQL."""
    from rules import load_catalogue

    if catalogue is None or isinstance(catalogue, (str, os.PathLike)):
        from junheng import settings

        catalogue = load_catalogue(os.fspath(catalogue) if catalogue else settings.catalogue_name())
    indicators = catalogue.section_indicators()
    ras = catalogue.of_kind("section_rule")
    balance = catalogue.of_kind("balance")
    shares = {0.0}
    for r in catalogue.of_kind("city_attainment_share"):
        shares.update(float(p) / 100.0 for p in r.params["milestones"].values())
    return {
        "indicators": [r.id for r in indicators],
        "indicator_thresholds": [[f"{r.id}|{lv}", float(r.thresholds[lv])] for r in indicators for lv in r.levels],
        "cv_thresholds": [[lv, float(r.thresholds[lv])] for r in balance for lv in r.levels],
        "ras_min_met": min(int(r.params["min_met"]) for r in ras) if ras else 0,
        "target_shares": sorted(shares),
    }


def read_mart(con: Any, suite: MartSuite) -> Any:
    """The mart as a pandas DataFrame: ``select *`` plus the suite's derived columns (what GX's
    pandas path validates; the checkpoint itself does not use it)."""
    derived = "".join(f", ({sql}) as {_ident(name)}" for name, sql in suite.derived_columns.items())
    return con.execute(f"select *{derived} from main.{_ident(suite.mart)}").df()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- results -----------------------------------------------------------------------------------


@dataclass
class FailedExpectation:
    """One expectation a mart does not meet (or that could not be evaluated: ``error`` is set)."""

    mart: str
    expectation: str
    column: str
    description: str | None
    unexpected_count: int | None = None
    element_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    unexpected_values: list[Any] = field(default_factory=list)
    unexpected_rows: list[dict[str, Any]] = field(default_factory=list)
    row_condition: str | None = None
    details: Any = None
    error: str | None = None

    def line(self) -> str:
        """``mart: expectation(column) — description: N of M rows unexpected, e.g. {key}``."""
        head = f"{self.mart}: {self.expectation}" + (f"({self.column})" if self.column != "-" else "")
        if self.description:
            head += f" — {self.description.rstrip('.')}"
        if self.error:
            return f"{head}: could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            where = f" where {self.row_condition}" if self.row_condition else ""
            tail = f"{self.unexpected_count} of {self.element_count} rows{where} unexpected"
            if self.unexpected_rows:
                tail += ", e.g. " + "; ".join(_short(r) for r in self.unexpected_rows[:3])
            elif self.unexpected_values:
                tail += ", e.g. " + ", ".join(repr(v) for v in self.unexpected_values[:5])
            return f"{head}: {tail}"
        missing = (
            ((self.details or {}).get("mismatched") or {}).get("missing") if isinstance(self.details, dict) else None
        )
        if missing:
            return f"{head}: missing {', '.join(map(str, missing))}"
        return f"{head}: observed {self.observed_value!r}"


def _short(row: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.items())


@dataclass
class SuiteStatistics:
    mart: str
    success: bool
    rows: int | None
    evaluated: int
    successful: int
    unsuccessful: int
    elapsed_s: float
    scope: str = "all rows"  # or "changed district-years" (an incremental build)


@dataclass
class CheckpointResult:
    """What :func:`run_checkpoint` found. ``success`` is true when every expectation of every suite
    passed and every mart a suite checks exists."""

    run_id: str
    success: bool
    warehouse: str
    database: str
    catalogue: str
    started_at: str
    elapsed_s: float
    suites: list[SuiteStatistics]
    failures: list[FailedExpectation]
    parameters: dict[str, Any]
    results_path: str | None = None
    data_docs_index: str | None = None
    summary_page: str | None = None
    data_docs_error: str | None = None
    unchecked_marts: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: what was checked: "all rows", or the changed district-years of an incremental build
    scope: str = "all rows"

    @property
    def statistics(self) -> dict[str, int]:
        return {
            "suites": len(self.suites),
            "evaluated": sum(s.evaluated for s in self.suites),
            "successful": sum(s.successful for s in self.suites),
            "unsuccessful": sum(s.unsuccessful for s in self.suites),
        }

    def message(self) -> str:
        """A few lines for a person: the verdict, each failed expectation, where the details are."""
        st = self.statistics
        verdict = "passed" if self.success else "FAILED"
        lines = [
            f"marts checkpoint {self.run_id} {verdict}: {st['successful']} of {st['evaluated']} expectations "
            f"met over {st['suites']} marts, {self.scope} ({self.elapsed_s:.1f} s)"
        ]
        for f in self.failures:
            lines.append("  - " + f.line())
        if self.unchecked_marts:
            lines.append("  (no suite for: " + ", ".join(self.unchecked_marts) + ")")
        if self.results_path:
            lines.append(f"  results: {self.results_path}")
        if self.summary_page:
            lines.append(f"  summary: {self.summary_page}")
        if self.data_docs_index:
            lines.append(f"  Data Docs: {self.data_docs_index}")
        if self.data_docs_error:
            lines.append(f"  Data Docs were not built: {self.data_docs_error}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["statistics"] = self.statistics
        return out


# -- the run -----------------------------------------------------------------------------------


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def changed_scope(con: Any, plan: Any) -> list[tuple[str, int]] | None:
    """The district-years an incremental build changed: [(district_code, from_year)] from the
    working database's ``incremental.changed_districts``; None (check everything) for no plan, a
    full rebuild, or a database without that table."""
    if plan is None or getattr(plan, "full_refresh", True):
        return None
    return changed_districts(con)


def changed_districts(con: Any, catalog: str | None = None) -> list[tuple[str, int]] | None:
    """``incremental.changed_districts`` of the database `catalog` attached to `con` (default: the
    connection's own): [(district_code, from_year)], or None when it has no such table. What the
    last dbt build recomputed (dbt_project/macros/incremental.sql); the checkpoint checks those
    rows, publishing copies them (junheng/build/publish_delta.py)."""
    where_catalog = "" if catalog is None else f" and database_name = {sql_literal(catalog)}"
    found = con.execute(
        "select count(*) from duckdb_tables() "
        f"where schema_name = 'incremental' and table_name = 'changed_districts'{where_catalog}"
    ).fetchone()
    if not found or not found[0]:
        return None
    table = "incremental.changed_districts" if catalog is None else f"{_ident(catalog)}.incremental.changed_districts"
    return [
        (str(d), int(y)) for d, y in con.execute(f"select district_code, from_year from {table} order by 1").fetchall()
    ]


def changed_rows_sql(changed: Sequence[tuple[str, int]], district: str, year: str | None) -> str:
    """A SQL condition true for the rows dbt recomputed (the ``changed`` macro's): each changed
    district from its first changed year, or, with `year` None (a mart keyed by district alone),
    every row of a changed district; ``false`` when nothing changed."""
    if not changed:
        return "false"
    d = _ident(district)
    if year is None:
        return f"{d} in ({', '.join(sql_literal(code) for code, _ in changed)})"
    y = _ident(year)
    return "(" + " or ".join(f"({d} = {sql_literal(code)} and {y} >= {int(first)})" for code, first in changed) + ")"


def run_checkpoint(
    warehouse: Path | str,
    catalogue: Any = None,
    *,
    data_docs: bool = True,
    run_id: str | None = None,
    suites_dir: Path | str = SUITES_DIR,
    keep_runs: int = KEEP_RUNS,
    database: Path | str | None = None,
    plan: Any = None,
) -> CheckpointResult:
    """Validate the marts of ``<warehouse>/junheng.duckdb`` against their suites, in SQL.

    ``catalogue``: the rules catalogue the parameters come from (default ``$JUNHENG_CATALOGUE`` or
    qingdao-2021). Writes ``<warehouse>/gx/results/<run-id>.json`` and ``gx/data_docs/latest.html``;
    with ``data_docs`` also GX's Data Docs (importing GX, ~10 s), of which all but the newest
    ``keep_runs`` runs are removed. Raises :class:`CheckpointError` when it cannot run at all.
    ``database``: the DuckDB file to check (default the warehouse's; a build checks its working
    database before publishing it). ``plan``: the build's :class:`junheng.incremental.BuildPlan`;
    after an incremental one the marts rebuilt by district-year are checked on the changed
    district-years only (None: everything).
    """
    warehouse = Path(warehouse).resolve()
    database = Path(database) if database is not None else WarehouseLayout(warehouse).database
    if not database.is_file():
        raise CheckpointError(f"no warehouse database at {database}: run the dbt build first")
    started = dt.datetime.now(dt.UTC)
    run_id = run_id or new_run_id(started)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    suites = load_mart_suites(suites_dir)
    catalogue_name = catalogue if isinstance(catalogue, str) else getattr(catalogue, "name", None)
    if catalogue_name is None:
        from junheng import settings

        catalogue_name = settings.catalogue_name()
    params = catalogue_parameters(catalogue)
    for s in suites:
        missing = s.parameters() - set(params)
        if missing:
            raise CheckpointError(f"suite {s.name} uses parameters {sorted(missing)} the catalogue does not provide")

    import duckdb

    from expectations.marts.sql import evaluate_suite

    t = time.perf_counter()
    failures: list[FailedExpectation] = []
    stats: list[SuiteStatistics] = []
    outcomes: dict[str, Any] = {}
    try:
        con = duckdb.connect(str(database), read_only=True, config={"memory_limit": MEMORY_LIMIT})
    except duckdb.Error as exc:
        raise CheckpointError(f"cannot open {database}: {exc}") from exc
    try:
        existing = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        changed = changed_scope(con, plan)
        for s in suites:
            ts = time.perf_counter()
            if s.mart not in existing:
                failures.append(
                    FailedExpectation(
                        s.mart,
                        "mart_exists",
                        "-",
                        "The mart is in the warehouse.",
                        error=f"table main.{s.mart} not found in {database}",
                    )
                )
                stats.append(SuiteStatistics(s.mart, False, None, 0, 0, 0, 0.0))
                continue
            where = changed_rows_sql(changed, *s.partition) if (changed is not None and s.partition) else None
            outcome = evaluate_suite(con, s, params, where, EXAMPLES)
            scope = "changed district-years" if where is not None else "all rows"
            if outcome.error is not None:  # e.g. a derived column naming a column the mart lost
                failures.append(
                    FailedExpectation(
                        s.mart,
                        "mart_readable",
                        "-",
                        "The mart can be read with the suite's derived columns.",
                        error=outcome.error,
                    )
                )
                stats.append(SuiteStatistics(s.mart, False, None, 0, 0, 0, round(time.perf_counter() - ts, 3), scope))
                continue
            outcomes[s.name] = outcome
            failed = [_failure(s, o) for o in outcome.outcomes if not o.success]
            failures.extend(failed)
            n = len(outcome.outcomes)
            stats.append(
                SuiteStatistics(
                    s.mart,
                    not failed,
                    outcome.rows,
                    n,
                    n - len(failed),
                    len(failed),
                    round(time.perf_counter() - ts, 3),
                    scope,
                )
            )
    finally:
        con.close()
    unchecked = sorted(n for n in existing if n.startswith("mart_") and n not in {s.mart for s in suites})
    timings["validate"] = time.perf_counter() - t
    scope_text = (
        "all rows"
        if changed is None
        else (f"changed district-years only ({len(changed)} district{'s' if len(changed) != 1 else ''})")
    )

    result = CheckpointResult(
        run_id=run_id,
        success=not failures,
        warehouse=str(warehouse),
        database=str(database),
        catalogue=str(catalogue_name),
        started_at=started.isoformat(),
        elapsed_s=0.0,
        suites=stats,
        failures=failures,
        parameters=params,
        unchecked_marts=unchecked,
        scope=scope_text,
    )
    docs_dir = WarehouseLayout(warehouse).gx / DATA_DOCS_DIR
    if data_docs:
        t = time.perf_counter()
        from expectations.marts import gx_docs

        try:
            result.data_docs_index = gx_docs.write(
                warehouse, run_id, started, suites, outcomes, params, keep_runs, str(database), scope_text
            )
        except Exception as exc:  # Data Docs are a report; never let them hide the verdict
            result.data_docs_error = f"{type(exc).__name__}: {exc}"
        timings["data_docs"] = time.perf_counter() - t
    result.timings = {k: round(v, 3) for k, v in timings.items()}
    result.results_path = str(WarehouseLayout(warehouse).gx_results / f"{run_id}.json")
    try:
        result.summary_page = str(_write_summary_page(docs_dir, result))
    except OSError as exc:
        result.data_docs_error = (result.data_docs_error or "") + f" summary page: {exc}"
    result.elapsed_s = round(time.perf_counter() - t0, 3)
    _write_results(warehouse, result)
    return result


def _failure(suite: MartSuite, o: Any) -> FailedExpectation:
    """An :class:`~expectations.marts.sql.Outcome` that failed, as reported."""
    kwargs = o.kwargs
    if "column" in kwargs:
        column = str(kwargs["column"])
    elif "column_A" in kwargs:
        column = f"{kwargs['column_A']}, {kwargs['column_B']}"
    elif kwargs.get("column_list"):
        column = "+".join(str(c) for c in kwargs["column_list"])
    else:
        column = "-"
    result = o.result()
    return FailedExpectation(
        mart=suite.mart,
        expectation=o.type,
        column=column,
        description=o.config.get("description"),
        unexpected_count=o.unexpected_count,
        element_count=o.element_count,
        unexpected_percent=_plain(result.get("unexpected_percent")),
        observed_value=_plain(o.observed_value),
        unexpected_values=[_plain(v) for v in o.unexpected_values[:EXAMPLES]],
        unexpected_rows=[{k: _plain(v) for k, v in r.items()} for r in o.unexpected_rows[:EXAMPLES]],
        row_condition=_condition_text(kwargs.get("row_condition")),
        details=_plain(o.details),
        error=o.error,
    )


def _condition_text(condition: Any) -> str | None:
    """A row condition as a person reads it: ``met == True and comparator == '>='``."""
    if condition is None:
        return None
    if hasattr(condition, "dict") and not isinstance(condition, Mapping):
        condition = condition.dict()
    if not isinstance(condition, Mapping):
        return str(condition)
    kind = condition.get("type")
    if kind == "comparison":
        op = {"IN": "in", "NOT_IN": "not in"}.get(str(condition["operator"]), str(condition["operator"]))
        return f"{condition['column']['name']} {op} {condition['parameter']!r}"
    if kind == "nullity":
        return f"{condition['column']['name']} is {'null' if condition['is_null'] else 'not null'}"
    if kind in ("and", "or"):
        parts = [_condition_text(c) or "" for c in condition.get("conditions") or []]
        return f" {kind} ".join(f"({p})" if " or " in p else p for p in parts)
    if kind == "pass_through":
        return str(condition.get("pass_through_filter"))
    return str(dict(condition))


def _plain(value: Any) -> Any:
    """numpy / pandas scalars and arrays as JSON-able Python values."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _plain(value.tolist())
    if hasattr(value, "isoformat"):  # datetime, pandas Timestamp
        return value.isoformat()
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError, ImportError):
        pass
    return str(value)


_PAGE_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:2em;color:#222;max-width:78em}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em} table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f3f3f3} .ok{color:#17702f;font-weight:600} .bad{color:#b00020;font-weight:600}
code{background:#f5f5f5;padding:0 .2em} .muted{color:#666;font-size:.9em}
td{overflow-wrap:anywhere} table.wide{width:100%}
"""


def _write_summary_page(docs_dir: Path, result: CheckpointResult) -> Path:
    """``<warehouse>/gx/data_docs/latest.html``: this run on one self-contained page (no script, no
    CDN), linking to GX's pages. GX's own index builds its lists with scripts loaded from public CDNs,
    so without internet access it shows empty lists; this page does not depend on them."""
    from html import escape

    def e(value: Any) -> str:
        return escape("" if value is None else str(value))

    def link(path: Path | None, text: str) -> str:
        if path is None or not path.is_file():
            return e(text)
        return f'<a href="{e(path.relative_to(docs_dir).as_posix())}">{e(text)}</a>'

    verdict = '<span class="ok">passed</span>' if result.success else '<span class="bad">FAILED</span>'
    st = result.statistics
    out = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Marts checkpoint '
        f"{e(result.run_id)}</title><style>{_PAGE_STYLE}</style></head><body>",
        f"<h1>Junheng marts checkpoint {verdict}</h1>",
        f"<p>Run <code>{e(result.run_id)}</code>, started {e(result.started_at)}, catalogue "
        f"<code>{e(result.catalogue)}</code>: {st['successful']} of {st['evaluated']} expectations met over "
        f"{st['suites']} marts of <code>{e(result.database)}</code>.</p>",
        "<h2>Marts</h2><table><tr><th>mart</th><th>rows</th><th>expectations</th><th>met</th><th>failed</th>"
        "<th>status</th><th>GX pages</th></tr>",
    ]
    for s in result.suites:
        pages = sorted((docs_dir / "validations" / s.mart / result.run_id).glob("*/*.html"))
        cell = (
            link(pages[0] if pages else None, "validation")
            + " · "
            + link(docs_dir / "expectations" / f"{s.mart}.html", "suite")
        )
        status = '<span class="ok">ok</span>' if s.success else '<span class="bad">failed</span>'
        out.append(
            f"<tr><td>{e(s.mart)}</td><td>{e(s.rows)}</td><td>{s.evaluated}</td><td>{s.successful}</td>"
            f"<td>{s.unsuccessful}</td><td>{status}</td><td>{cell}</td></tr>"
        )
    out.append("</table>")
    if result.failures:
        out.append(
            '<h2>Failed expectations</h2><table class="wide"><tr><th>mart</th><th>expectation</th><th>column</th>'
            "<th>what it checks</th><th>rows</th><th>unexpected</th><th>examples (key)</th></tr>"
        )
        for f in result.failures:
            rows = "<br>".join(e(_short(r)) for r in f.unexpected_rows[:EXAMPLES]) or e(
                ", ".join(repr(v) for v in f.unexpected_values[:EXAMPLES])
            )
            scope = e(f.element_count) + (
                f'<br><span class="muted">where {e(f.row_condition)}</span>' if f.row_condition else ""
            )
            unexpected = e(f.unexpected_count) if f.error is None else f'<span class="bad">error: {e(f.error)}</span>'
            if f.unexpected_count is None and f.error is None:
                unexpected = "observed " + e(f.observed_value)
            out.append(
                f"<tr><td>{e(f.mart)}</td><td><code>{e(f.expectation)}</code></td><td>{e(f.column.replace('+', ' + '))}</td>"
                f"<td>{e(f.description)}</td><td>{scope}</td><td>{unexpected}</td><td>{rows}</td></tr>"
            )
        out.append("</table>")
    if result.unchecked_marts:
        out.append("<p>No suite for: " + e(", ".join(result.unchecked_marts)) + "</p>")
    out.append(
        f"<h2>Files</h2><ul><li>results (JSON): <code>{e(result.results_path)}</code></li>"
        f"<li>{link(docs_dir / 'index.html', 'GX Data Docs index')} "
        '<span class="muted">(its lists need the public CDNs GX loads scripts from)</span></li></ul>'
    )
    out.append('<p class="muted">How to read a failure: docs/data-quality.md.</p></body></html>')
    docs_dir.mkdir(parents=True, exist_ok=True)
    path = docs_dir / "latest.html"
    tmp = path.with_name(".latest.html.tmp")
    tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _write_results(warehouse: Path, result: CheckpointResult) -> Path:
    folder = WarehouseLayout(warehouse).gx_results
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.run_id}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_plain(result.to_dict()), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
