"""BatchValidator: run the GX suites over one micro-batch and map row failures back to events.

Construction (once per process or worker): load ``suites/*.json``, check each against its
flattener (:mod:`expectations.flatten`), create an *ephemeral* GX context with one in-memory pandas
data source and register the suites in it. Nothing is written to disk.

``validate(events)`` flattens the batch into one pandas table per suite, each row tagged with the
event's position (``_pos``), and runs every suite that has rows:

1. the whole suite with ``result_format="BOOLEAN_ONLY"`` — all that a clean batch pays;
2. only if something failed, the failed expectations again with ``result_format`` COMPLETE and
   ``unexpected_index_column_names=["_pos"(, "_field")]``; the positions of the failing rows come
   back in ``unexpected_index_list``.

GX's cost is per expectation and per call (roughly 10-40 ms each on this machine), hardly per row,
so it runs per micro-batch, never per event; tables are kept few-columned and homogeneous fields are
melted into long tables (see :mod:`expectations.flatten`) to keep the expectation count down. A
batch holding only event types without a suite still pays for the envelope suite once.

Reasons are ``gx:<suite>:<expectation type>:<column>``; for a column-pair expectation the column is
``column_B`` (the count that must not exceed ``column_A``); for an expectation over a long table
whose meta has ``"reason_column": "_field"`` it is the payload field of the failing row. A value
that is present but not a number gives ``gx:<suite>:not_a_number:<column>`` (decided in Python: GX
cannot compare it). An event that fails several expectations gets the first in suite order
(envelope first, then its type's suite, each in file order), so the reason is deterministic.

``mostly``: an expectation with ``mostly < 1`` that still *succeeds* flags no event (the few rows
outside the range are tolerated by design); when it fails, all its out-of-range rows are flagged.
With the default ``mostly = 1`` (all shipped suites) every out-of-range row is flagged. A failed
expectation that reports no rows (a table-level one) cannot be pinned on an event; it is kept in
:attr:`BatchValidator.last_batch_failures` instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from expectations.flatten import FLATTENERS, POS, Flattener, Row
from expectations.gx_results import raised_message
from expectations.gx_speedups import configurations_cached

__all__ = ["BatchValidator", "SuiteSpec", "SuiteError", "SUITES_DIR", "load_suite_specs"]

SUITES_DIR = Path(__file__).with_name("suites")

#: kwargs of an expectation that name columns of the batch.
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)


class SuiteError(RuntimeError):
    """A suite does not fit its flattener, or GX raised while evaluating an expectation.

    Raised rather than returning "all passed": a suite that cannot run validates nothing, and
    letting the batch through silently would hide that.
    """


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as stored in ``suites/<name>.json`` (GX 1.x ExpectationSuite JSON), with its flattener."""

    name: str
    document: Mapping[str, Any]
    flattener: Flattener

    @property
    def expectations(self) -> list[dict[str, Any]]:
        return list(self.document["expectations"])


def _columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    cols = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
    for k in _COLUMN_LIST_KWARGS:
        cols.extend(kwargs.get(k) or [])
    return cols


def _reason_column(kwargs: Mapping[str, Any]) -> str:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_B" in kwargs:
        return str(kwargs["column_B"])
    return "+".join(str(c) for c in _columns_of(kwargs)) or "-"


def load_suite_specs(directory: Path | str = SUITES_DIR) -> list[SuiteSpec]:
    """Read every ``*.json`` suite in ``directory`` and check it against its flattener.

    Order: ``envelope`` first, then by name (this is the order reasons are chosen in).
    """
    directory = Path(directory)
    specs: list[SuiteSpec] = []
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        name = document.get("name")
        if name != path.stem:
            raise SuiteError(f"{path.name}: suite name {name!r} does not match the file name")
        flattener = FLATTENERS.get(name)
        if flattener is None:
            raise SuiteError(f"{path.name}: no flattener for suite {name!r} in expectations.flatten")
        expectations = document.get("expectations")
        if not isinstance(expectations, list) or not expectations:
            raise SuiteError(f"{path.name}: 'expectations' must be a non-empty list")
        known = set(flattener.columns)
        for i, exp in enumerate(expectations):
            missing = [c for c in _columns_of(exp.get("kwargs", {})) if c not in known]
            if missing:
                raise SuiteError(
                    f"{path.name}: expectation {i} ({exp.get('type')}) names columns {missing} "
                    f"that the flattener does not produce (it has {sorted(known - {POS})})"
                )
            reason_column = (exp.get("meta") or {}).get("reason_column")
            if reason_column is not None and reason_column not in flattener.index[1:]:
                raise SuiteError(
                    f"{path.name}: expectation {i} takes its reason column from {reason_column!r}, "
                    f"which is not an index column of this table ({list(flattener.index)})"
                )
        specs.append(SuiteSpec(name, document, flattener))
    names = {s.name for s in specs}
    if set(FLATTENERS) - names:
        raise SuiteError(f"flatteners without a suite file: {sorted(set(FLATTENERS) - names)}")
    specs.sort(key=lambda s: (s.name != "envelope", s.name))
    return specs


class BatchValidator:
    """Second validation layer: GX suites over a micro-batch of already schema-checked events.

    Build once per process or worker: importing GX takes several seconds on this machine (scipy,
    altair, ...), building the context and suites a few hundred milliseconds more. Then call
    :meth:`validate` once per micro-batch. Calls on one instance are serialised by a lock (and
    :attr:`last_batch_failures` belongs to the last call); give each worker thread its own instance
    to validate batches concurrently.
    """

    def __init__(self, suites_dir: Path | str = SUITES_DIR) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self._specs = load_suite_specs(suites_dir)
        self._context = gx.get_context(mode="ephemeral")
        # GX draws a tqdm "Calculating Metrics" bar on stderr for every call unless told not to.
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        source = self._context.data_sources.add_pandas(name="junheng_microbatch")
        self._batch_defs: dict[str, Any] = {}
        self._suites: dict[str, Any] = {}
        # Each result carries its expectation's configuration back, meta included: that is where
        # the rank (for "first failure wins") and the pieces of the reason travel.
        for rank_base, spec in enumerate(self._specs):
            asset = source.add_dataframe_asset(name=spec.name)
            self._batch_defs[spec.name] = asset.add_batch_definition_whole_dataframe(name=spec.name)
            expectations = []
            for i, exp in enumerate(spec.expectations):
                exp = dict(exp)
                kwargs = exp.get("kwargs", {})
                exp["meta"] = {
                    **(exp.get("meta") or {}),
                    "junheng_rank": rank_base * 1000 + i,
                    "junheng_prefix": f"gx:{spec.name}:{exp['type']}:",
                    "junheng_column": _reason_column(kwargs),
                }
                expectations.append(exp)
            suite = gx.ExpectationSuite(
                name=spec.name, expectations=expectations, meta=dict(spec.document.get("meta") or {})
            )
            # GX's ExpectationSuite() logs and DROPS an expectation whose configuration is invalid
            # (unknown type, bad kwargs) instead of raising; a suite silently missing a check is
            # worse than no suite, so count them.
            if len(suite.expectations) != len(expectations):
                raise SuiteError(
                    f"suite {spec.name}: GX accepted {len(suite.expectations)} of {len(expectations)} "
                    "expectations (see the GX log for the invalid one)"
                )
            self._suites[spec.name] = self._context.suites.add(suite)
        self._lock = threading.Lock()
        #: Build each expectation's configuration once per call (expectations/gx_speedups.py:
        #: about half of a call's CPU); False runs GX exactly as shipped.
        self.memo_configurations = True
        #: Failed expectations of the last validate() that could not be pinned on events.
        self.last_batch_failures: list[str] = []

    @property
    def suite_names(self) -> list[str]:
        return [s.name for s in self._specs]

    @property
    def context(self) -> Any:
        """The ephemeral GX context (for inspection; do not add other assets named like suites)."""
        return self._context

    def suite(self, name: str) -> Any:
        """The registered ``great_expectations.ExpectationSuite`` called ``name``."""
        return self._suites[name]

    def validate(self, events: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """For each event, in order: None if it passes, else ``gx:<suite>:<expectation>:<column>``."""
        with self._lock:
            if not self.memo_configurations:
                return self._validate(events)
            with configurations_cached():
                return self._validate(events)

    # -- internals -----------------------------------------------------------------------------

    def _validate(self, events: Sequence[Mapping[str, Any]]) -> list[str | None]:
        self.last_batch_failures = []
        n = len(events)
        best: list[tuple[int, str] | None] = [None] * n
        if n == 0:
            return []

        for spec in self._specs:
            rows = self._rows(spec.flattener, events)
            if not rows:
                continue
            # Values GX cannot compare were nulled by the flattener; report them here, ranked just
            # before the suite's own expectations.
            rank_base = self._rank_base(spec)
            for row in rows:
                for column in row.not_numbers:
                    self._offer(best, row.values[POS], rank_base - 1, f"gx:{spec.name}:not_a_number:{column}")
            frame = self._frame(spec.flattener, rows)
            for rank, reason, pos in self._run_suite(spec, frame):
                self._offer(best, pos, rank, reason)
        return [b[1] if b else None for b in best]

    def _rank_base(self, spec: SuiteSpec) -> int:
        return self._specs.index(spec) * 1000

    @staticmethod
    def _offer(best: list[tuple[int, str] | None], pos: int, rank: int, reason: str) -> None:
        current = best[pos]
        if current is None or rank < current[0]:
            best[pos] = (rank, reason)

    @staticmethod
    def _rows(flattener: Flattener, events: Sequence[Mapping[str, Any]]) -> list[Row]:
        rows: list[Row] = []
        for pos, event in enumerate(events):
            if not isinstance(event, Mapping):
                continue
            if flattener.applies(event.get("event_type")):
                rows.extend(flattener.rows(dict(event), pos))
        return rows

    @staticmethod
    def _frame(flattener: Flattener, rows: Iterable[Row]) -> pd.DataFrame:
        records = [r.values for r in rows]
        frame = pd.DataFrame.from_records(records, columns=list(flattener.columns))
        # Fixed dtypes: numbers as float64 (ints with gaps would become float anyway, and an
        # all-null column would otherwise be object), the position as int64, text as object.
        for column in flattener.numeric:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
        frame[POS] = frame[POS].astype("int64")
        for column in (*flattener.index[1:], *flattener.text):
            frame[column] = frame[column].astype(object)
        return frame

    def _run_suite(self, spec: SuiteSpec, frame: pd.DataFrame) -> list[tuple[int, str, int]]:
        """Run one suite on its table; return (rank, reason, event position) per failing row.

        Two passes, because GX's cost is per expectation and COMPLETE results cost about twice
        BOOLEAN_ONLY ones: first the whole suite with BOOLEAN_ONLY (all a clean batch pays), then,
        only if something failed, the failed expectations again with COMPLETE results to get the
        failing rows' positions.
        """
        definition = self._batch_defs[spec.name]
        first = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            self._suites[spec.name], result_format="BOOLEAN_ONLY"
        )
        failed = []
        for r in first.results:
            self._check_raised(r)
            if not r.success:
                failed.append(r.expectation_config)
        if not failed:
            return []
        rerun = self._gx.ExpectationSuite(
            name=f"{spec.name}.failed",
            expectations=[{"type": c.type, "kwargs": dict(c.kwargs), "meta": dict(c.meta or {})} for c in failed],
        )
        second = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            rerun,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": list(spec.flattener.index),
                "include_unexpected_rows": False,
                "return_unexpected_index_query": False,
            },
        )
        out: list[tuple[int, str, int]] = []
        for r in second.results:
            self._check_raised(r)
            meta = r.expectation_config.meta or {}
            prefix, column = meta["junheng_prefix"], meta["junheng_column"]
            rank, from_row = int(meta["junheng_rank"]), meta.get("reason_column")
            if r.success:  # cannot change between the passes; kept for safety
                continue
            index_list = (r.result or {}).get("unexpected_index_list")
            if not index_list:
                self.last_batch_failures.append(prefix + column)
                continue
            for item in index_list:
                named = item.get(from_row) if from_row else None
                out.append((rank, prefix + (str(named) if named is not None else column), int(item[POS])))
        return out

    @staticmethod
    def _check_raised(r: Any) -> None:
        raised = raised_message(r.exception_info)
        if raised is not None:
            meta = r.expectation_config.meta or {}
            raise SuiteError(f"{meta.get('junheng_prefix', '')}{meta.get('junheng_column', '')}: GX raised {raised}")
