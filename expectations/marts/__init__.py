"""The marts checkpoint: the Great Expectations (GX 1.x) suites of the marts, evaluated as SQL on
DuckDB after every dbt build (only the changed district-years after an incremental one).

Public API::

    run_checkpoint(warehouse, catalogue=None, *, data_docs=True, database=None, plan=None) -> CheckpointResult
    CheckpointResult.success / .statistics / .suites / .failures / .message() / .results_path / .data_docs_index
    load_mart_suites()            the suites in expectations/marts/suites/*.json, checked
    catalogue_parameters(name)    the suite parameters taken from the rules catalogue

Suites are declarative GX 1.x ExpectationSuite JSON, one per mart, in ``suites/``. Results go to
``<warehouse>/gx/results/<run-id>.json`` and GX's Data Docs to ``<warehouse>/gx/data_docs/index.html``.
Importing this package is cheap; GX (about 10 s to import) is loaded by ``run_checkpoint`` only for
its Data Docs (``data_docs=True``).
See docs/data-quality.md.
"""

from __future__ import annotations

from expectations.marts.checkpoint import (
    SUITES_DIR,
    CheckpointError,
    CheckpointResult,
    FailedExpectation,
    MartSuite,
    SuiteStatistics,
    catalogue_parameters,
    changed_districts,
    changed_rows_sql,
    changed_scope,
    load_mart_suites,
    read_mart,
    run_checkpoint,
)

__all__ = [
    "SUITES_DIR",
    "CheckpointError",
    "CheckpointResult",
    "FailedExpectation",
    "MartSuite",
    "SuiteStatistics",
    "catalogue_parameters",
    "changed_districts",
    "changed_rows_sql",
    "changed_scope",
    "load_mart_suites",
    "read_mart",
    "run_checkpoint",
]
