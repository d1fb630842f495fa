"""The embedded default: the stream's processing core driven in-process over event files.

No Kafka, no Java: JSONL files are read line by line as records, cut into micro-batches like
the Faust worker's, and run through the same pipeline (streams/pipeline.py: checks, the GX suites
in-process, the rules engine with its per-record fallback, the landing). District states are kept
under <warehouse>/state between runs (streams/file_states.py), so running the same files twice
applies nothing twice (the second run counts duplicates). A run reads only the states of the
districts its events name, and writes back only the ones it changed. A micro-batch naming more
districts than the state bound is processed in runs of at most that many (streams/district_runs.py),
so memory stays bounded at the end of a national stream too.

A run is all or nothing, also when the process is killed (SIGKILL, power loss): it keeps a journal,
``state/run.journal``. While it runs, the journal says ``running`` and from which landing
batch on the files are this run's; at the end the new state files are staged, the journal turns to
``committing`` and lists them, they are renamed into place, and the journal goes. The next runner
on the warehouse finds a journal left behind and finishes what it says: ``running`` -- the run
died before its commit, its landing files are removed (the states never changed); ``committing``
-- the run died while renaming, the remaining renames are done. Either way the warehouse is then
that of a finished run, and running the files again lands every row once
(tests/streams/test_embedded_journal.py).

One run at a time: a run holds the warehouse's exclusive lock (junheng/warehouse_lock.py) from
before it reads the journal and the states until its commit is done. A second run on the same
warehouse waits up to ``wait_s`` and then raises :class:`WarehouseBusy`; it never interleaves
(two runs used to read the same states, land under the same file names and both exit 0 with
data lost). A journal found while holding the lock was left by a dead run, whatever its pid.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.lines import read_lines
from ingestion.reference import load_districts
from junheng.layout import LandingFile, WarehouseLayout
from junheng.settings import settings
from junheng.warehouse_lock import WarehouseBusy, WarehouseLock
from rules import Catalogue, load_catalogue
from rules.state import DistrictState, Engine
from streams.district_runs import district_of_raw, split_runs
from streams.file_states import FileStates
from streams.landing import LandingWriter, landed_dead_letter_ids
from streams.pipeline import Counts, Pipeline
from streams.processing import BatchResult, BatchValidator, Record
from streams.runtime import tune_gc

ProgressHook = Callable[[int], None]
#: more tables to land with a batch, from its records and its result (EmbeddedRunner.run_records)
Annotate = Callable[[Sequence[Record], BatchResult], dict[str, list[dict[str, Any]]]]
# A GX call costs ~15 ms plus 10–40 ms per expectation whatever the batch size, so batches are
# large; the engine's own cost per event does not depend on the batch size.
DEFAULT_BATCH_SIZE = 5000
WRITER_ID = "embedded"
__all__ = ["EmbeddedRunner", "RunSummary", "WarehouseBusy", "batched", "read_records"]


def _write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename: the journal is either the old one or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class RunSummary:
    """What a run read and did (:class:`streams.pipeline.Counts`: read = applied + duplicate +
    stale + dead_lettered), how long it took, where it landed and under which catalogue."""

    counts: Counts = field(default_factory=Counts)
    elapsed_s: float = 0.0
    landing: str = ""
    catalogue: str = ""

    @property
    def dead_letter_reasons(self) -> dict[str, int]:
        return dict(self.counts.reasons)

    @property
    def batches(self) -> int:
        return self.counts.batches

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts.as_dict(),
            "elapsed_s": round(self.elapsed_s, 3),
            "landing": self.landing,
            "catalogue": self.catalogue,
        }

    def balanced(self) -> bool:
        return self.counts.balanced()


def read_records(paths: Iterable[str | Path]) -> Iterator[Record]:
    """Every non-blank line of every input as a record, origin file and line (ingestion.lines:
    ``-`` is standard input; a pipe or FIFO is read once)."""
    for line in read_lines(paths):
        yield Record(line.raw, {"file": line.file, "line": line.number})


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

    def __init__(
        self,
        warehouse: str | Path,
        catalogue: Catalogue | None = None,
        batch_validator: BatchValidator | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        gx: bool = False,
        max_loaded: int | None = None,
    ) -> None:
        """`gx=True` runs the Great Expectations suites on every micro-batch (what the CLI does);
        an explicit `batch_validator` replaces them. `max_loaded`: the district states kept in
        memory between batches, the changed ones beyond it spilled to their staged files (default
        ``JUNHENG_MAX_LOADED_DISTRICTS``; streams/file_states.py). Nothing of the warehouse is
        read here: :meth:`run` (or :meth:`open`) reads it under the warehouse's lock."""
        self.warehouse = Path(warehouse)
        self.layout = WarehouseLayout(self.warehouse)
        self.engine = Engine(catalogue or load_catalogue(settings().catalogue))
        self.districts = load_districts()
        self.state_dir = self.layout.state
        self.lock = WarehouseLock.of(self.warehouse)
        self._committing = False  # between the "committing" journal and its last rename
        #: what finishing a killed run's journal did ("rolled back ...", "rolled forward ..."), or None
        self.recovered: str | None = None
        if batch_validator is None and gx:
            from expectations import BatchValidator as GXValidator

            batch_validator = GXValidator().validate
        self.landing = LandingWriter(self.layout.landing, writer_id=WRITER_ID)
        self.store = FileStates(
            self.engine, self.warehouse, settings().max_loaded_districts if max_loaded is None else max_loaded
        )
        #: which district registered each school: from the owners' index, not from every state
        self.school_owners: dict[str, str] = {}
        self.pipeline = Pipeline(
            self.engine,
            self.districts,
            self.store,
            self.landing,
            batch_validator=batch_validator,
            school_owners=self.school_owners,
        )
        self.batch_size = batch_size

    def open(self, wait_s: float = 0.0) -> EmbeddedRunner:
        """Finish what a killed run left (:meth:`recover`) and open the district states (read
        when first asked for: streams/file_states.py), under the warehouse's lock. :meth:`run`
        does this itself; call it to read a warehouse's states without running anything.
        Raises :class:`WarehouseBusy` if another process holds it for longer than `wait_s` seconds."""
        with self.lock.hold(wait_s):
            self._open()
        return self

    def _open(self) -> None:
        self.recovered = self.recover() or self.recovered
        self._reload()

    def _reload(self) -> None:
        """The states as the state files say (read when needed), and the school owners from the
        owners' index (streams/owners_index.py)."""
        self.store.load()
        self.school_owners.clear()
        self.school_owners.update(self.store.school_owners())
        self.pipeline.known_dead_letters = landed_dead_letter_ids(self.layout.landing)

    # ---------------------------------------------------------------- the journal
    @property
    def journal_path(self) -> Path:
        return self.layout.journal

    def _journal(
        self,
        phase: str,
        first_batch: int,
        renames: Sequence[tuple[Path, Path]] = (),
        index: tuple[Path, Path] | None = None,
    ) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(
            self.journal_path,
            json.dumps(
                {
                    "phase": phase,
                    "first_batch": first_batch,
                    "pid": os.getpid(),
                    "renames": [[tmp.name, path.name] for tmp, path in renames],
                    "index": [index[0].name, index[1].name] if index else None,
                }
            ),
        )

    def recover(self) -> str | None:
        """Finish what a killed run's journal says (module docstring); None if there is none.
        Call only while holding the warehouse's lock: the journal's run is then surely dead."""
        try:
            journal = json.loads(self.journal_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if journal["phase"] == "committing":
            done = 0
            for tmp_name, name in [*journal["renames"], *([journal["index"]] if journal.get("index") else [])]:
                tmp = self.state_dir / tmp_name
                if tmp.exists():
                    os.replace(tmp, self.state_dir / name)
                    done += 1
            self.journal_path.unlink()
            return f"rolled forward: the run killed while committing its states ({done} renames finished)"
        first = int(journal["first_batch"])
        removed = 0
        root = self.layout.landing
        for path in sorted(root.glob(f"*/part-*-{WRITER_ID}.parquet"), reverse=True) + sorted(
            root.glob(f"*/.part-*-{WRITER_ID}.parquet.tmp")
        ):
            landed = LandingFile.parse(path.name)
            if landed is not None and landed.writer == WRITER_ID and landed.batch >= first:
                path.unlink(missing_ok=True)
                removed += 1
        self.store.discard_staged()  # the states it staged early (FileStates.trim) or at its commit
        self.layout.school_owners_index_tmp.unlink(missing_ok=True)
        self.journal_path.unlink()
        return f"rolled back: the run killed before its commit, {removed} landing files from batch {first} on removed"

    def _save_states(self, first_batch: int) -> None:
        """The states this run changed and the school owners' index, all or nothing like a
        landing batch: all files are written under temporary names first (:meth:`FileStates.stage`),
        so a full disk leaves state/ as it was (and `run` rolls its landing back to match); then
        the journal lists the renames before they are done, so a run killed halfway through them
        is rolled forward by the next runner. The index is renamed last: until then it describes
        the files before the run, and streams/owners_index.py re-reads any file it does not match."""
        staged, index = self.store.stage()
        self._journal("committing", first_batch, staged, index)
        self._committing = True
        for tmp, path in [*staged, *([index] if index else [])]:
            tmp.replace(path)
        self.journal_path.unlink()
        self._committing = False
        self.store.committed(staged)

    def land(self, result: BatchResult, batch: int, extra: dict[str, list[dict[str, Any]]] | None = None) -> list[Path]:
        return self.pipeline.land(result, batch, extra)

    def run(self, paths: Sequence[str | Path], progress: ProgressHook | None = None, wait_s: float = 0.0) -> RunSummary:
        """Process the files; all or nothing, one run at a time (the warehouse's lock, waiting
        at most `wait_s` seconds for another run to finish). District states are saved only at
        the end, so if anything fails (a landing write on a full disk, a bad file) the files this
        run already landed are removed before the error is raised: the warehouse is then exactly
        as before the run, and running the same files again lands every row once."""
        with self.lock.hold(wait_s):
            self._open()
            return self._run(read_records(paths), progress)

    def run_records(
        self, records: Iterable[Record], annotate: Annotate | None = None, wait_s: float = 0.0
    ) -> RunSummary:
        """:meth:`run` over records from elsewhere (`junheng dlq replay`: dead letters' bytes),
        all or nothing the same way. `annotate(records, result)` gives the rows of more tables to
        land in each batch's landing, atomically with it (what the replay did to each dead letter)."""
        with self.lock.hold(wait_s):
            self._open()
            return self._run(records, None, annotate)

    def _run(
        self, source: Iterable[Record], progress: ProgressHook | None, annotate: Annotate | None = None
    ) -> RunSummary:
        summary = RunSummary(landing=str(self.landing.root), catalogue=self.engine.catalogue.name)
        tune_gc()
        start = time.perf_counter()
        batch_no = first_batch = self.landing.next_batch_number()
        first_file = len(self.landing.landed)  # what this run lands: landing.landed[first_file:]
        self._journal("running", first_batch)
        try:
            for records in self._parts(source):
                result = self.pipeline.process(records)
                landed = len(self.landing.landed)
                if annotate is None:
                    self.land(result, batch_no)
                else:
                    self.land(result, batch_no, annotate(records, result))
                self.store.note_landed(result, self.landing.landed[landed:])
                self.store.trim()
                batch_no += 1
                summary.counts.add(result)
                if progress is not None:
                    progress(len(records))
            self._save_states(first_batch)
        except BaseException:
            if self._committing:  # failed amid the renames: the run is committed, finish them
                self._committing = False
                self.recover()
                raise
            for path in reversed(self.landing.landed[first_file:]):  # newest first: a reader
                path.unlink(missing_ok=True)  # never sees a later batch alone
            del self.landing.landed[first_file:]
            self.store.discard_staged()  # the changed states trim() spilled: never committed
            self.journal_path.unlink(missing_ok=True)
            self._reload()  # half-applied: back to state/ before another run
            raise
        finally:
            self.store.forget_run()  # committed or rolled back: the files say it all
            self.store.trim()
        summary.elapsed_s = time.perf_counter() - start
        return summary

    def _parts(self, source: Iterable[Record]) -> Iterator[Sequence[Record]]:
        """The micro-batches, each cut into runs of at most ``max_loaded`` districts
        (streams/district_runs.py), each processed and landed as a batch of its own: the states
        in memory stay within about twice the bound even when a batch names every district."""
        for batch in batched(source, self.batch_size):
            yield from split_runs(batch, lambda rec: district_of_raw(rec.raw), self.store.max_loaded)

    @property
    def states(self) -> dict[str, DistrictState]:
        """Every district's state, all in memory at once (tests, small warehouses); a reader of a
        large warehouse iterates :meth:`iter_states` instead."""
        return dict(self.store)

    def iter_states(self, codes: AbstractSet[str] | None = None) -> Iterator[DistrictState]:
        """The states of `codes` (None: every district), one at a time, in code order (bounded memory)."""
        return self.store.iter_states(codes)
