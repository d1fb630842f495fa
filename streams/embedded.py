"""The embedded default: the stream's processing core driven in-process over event files.

No Kafka, no Java: JSONL files are read line by line as records, cut into micro-batches like
the Faust worker's, processed by the same `Processor`, and landed by the same writer. District
states are kept under <warehouse>/state between runs, so running the same files twice applies
nothing twice (the second run counts duplicates).
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ingestion.reference import load_districts
from rules import Catalogue, load_catalogue
from rules.state import DistrictState, Engine
from streams.landing import LandingWriter
from streams.runtime import tune_gc
from streams.sink import land_result
from streams.processing import BatchResult, BatchValidator, Processor, Record

ProgressHook = Callable[[int], None]
# A GX call costs ~15 ms plus 10–40 ms per expectation whatever the batch size, so batches are
# large; the engine's own cost per event does not depend on the batch size.
DEFAULT_BATCH_SIZE = 5000


@dataclass
class RunSummary:
    """What a run read and did: the counts add up (read = applied + duplicate + stale + dead_lettered)."""

    counts: Counter[str] = field(default_factory=Counter)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    elapsed_s: float = 0.0
    landing: str = ""

    def as_dict(self) -> dict[str, Any]:
        c = self.counts
        return {"read": c["read"], "applied": c["applied"], "duplicate": c["duplicate"], "stale": c["stale"],
                "dead_lettered": c["dead_lettered"], "dead_letter_reasons": dict(self.dead_letter_reasons),
                "batches": self.batches, "elapsed_s": round(self.elapsed_s, 3), "landing": self.landing}

    def balanced(self) -> bool:
        c = self.counts
        return c["read"] == c["applied"] + c["duplicate"] + c["stale"] + c["dead_lettered"]


def read_records(paths: Iterable[str | Path]) -> Iterator[Record]:
    """Every non-blank line of every file, as bytes, with file and line number as origin."""
    for path in paths:
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                raw = line.rstrip(b"\r\n")
                if raw.strip():
                    yield Record(raw, {"file": str(path), "line": number})


def batched(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class EmbeddedRunner:
    """Processes event files into a warehouse folder: landing/ for dbt, state/ for the next run."""

    def __init__(self, warehouse: str | Path, catalogue: Catalogue | None = None,
                 batch_validator: BatchValidator | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 gx: bool = False) -> None:
        """`gx=True` runs the Great Expectations suites on every micro-batch (what the CLI does);
        an explicit `batch_validator` replaces them."""
        self.warehouse = Path(warehouse)
        self.engine = Engine(catalogue or load_catalogue())
        self.districts = load_districts()
        self.state_dir = self.warehouse / "state"
        if batch_validator is None and gx:
            from expectations import BatchValidator as GXValidator

            batch_validator = GXValidator().validate
        self.processor = Processor(self.engine, self.districts, batch_validator, self._load_states())
        self.landing = LandingWriter(self.warehouse / "landing", writer_id="embedded")
        self.batch_size = batch_size

    def _load_states(self) -> dict[str, DistrictState]:
        states: dict[str, DistrictState] = {}
        if self.state_dir.is_dir():
            for path in sorted(self.state_dir.glob("*.json")):
                plain = json.loads(path.read_text(encoding="utf-8"))
                states[plain["code"]] = DistrictState.from_state(self.engine, plain)
        return states

    def _save_states(self) -> None:
        """Every district's state, all or nothing like a landing batch: all files are written
        under temporary names first and renamed only when all are complete, so a full disk
        leaves state/ as it was (and `run` can roll its landing back to match)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for code, state in self.processor.states.items():
                path = self.state_dir / f"{code}.json"
                tmp = path.with_suffix(".json.tmp")
                staged.append((tmp, path))
                tmp.write_text(json.dumps(state.to_state(), ensure_ascii=False), encoding="utf-8")
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, path in staged:
            tmp.replace(path)

    def land(self, result: BatchResult, batch: int) -> list[Path]:
        return land_result(self.landing, result, batch)

    def run(self, paths: Sequence[str | Path], progress: ProgressHook | None = None) -> RunSummary:
        """Process the files; all or nothing. District states are saved only at the end, so if
        anything fails (a landing write on a full disk, a bad file) the files this run already
        landed are removed before the error is raised: the warehouse is then exactly as before
        the run, and running the same files again lands every row once."""
        summary = RunSummary(landing=str(self.landing.root))
        tune_gc()
        start = time.perf_counter()
        batch_no = self.landing.next_batch_number()
        first_file = len(self.landing.landed)  # what this run lands: landing.landed[first_file:]
        try:
            for records in batched(read_records(paths), self.batch_size):
                result = self.processor.process(records)
                self.land(result, batch_no)
                batch_no += 1
                summary.batches += 1
                summary.counts.update(result.counts)
                summary.dead_letter_reasons.update(d.reason.split(":", 1)[0] for d in result.dead_letters)
                if progress is not None:
                    progress(len(records))
            self._save_states()
        except BaseException:
            for path in reversed(self.landing.landed[first_file:]):  # newest first: a reader
                path.unlink(missing_ok=True)                          # never sees a later batch alone
            del self.landing.landed[first_file:]
            self.processor.states.clear()  # half-applied: reload from state/ before another run
            self.processor.states.update(self._load_states())
            raise
        summary.elapsed_s = time.perf_counter() - start
        return summary

    @property
    def states(self) -> dict[str, DistrictState]:
        return dict(self.processor.states)
