"""The embedded driver's district states: read lazily from ``<warehouse>/state``, kept between runs.

Opening the warehouse (:meth:`FileStates.load`) reads no state: it lists which districts have a
state file (``state/<district>.json``) and reads the school owners' index
(streams/owners_index.py). A district's state is read from its file the first time the pipeline
asks for it (``get``, ``[]``, ``in``), so a run that corrects one district reads one file.

A run writes back, at its commit, only the states it changed (:attr:`FileStates.dirty`: a state
created by the run, or one that applied an event or saw a stale version), under temporary names
(:meth:`FileStates.stage`: ``state/<district>.json.tmp``); streams/embedded.py's journal renames
them into place, so the files are always the states of the last committed run. What the current
run changed in between is in memory or in those staged files, and in the landing files it has
written so far (:meth:`FileStates.note_landed` keeps the list).

Memory: ``max_loaded`` bounds the states held between batches, clean and changed together, like
the worker's streams/table_states.py. After each landed batch (:meth:`FileStates.trim`) the least
recently used *clean* states beyond it are dropped -- a clean state equals its file, which gives
it back when it is next needed -- and then, if the run changed more states than that, the least
recently used *changed* ones are spilled: written to their staged file and dropped. A spilled
state is read back from its staged file (never from the committed one) when the run needs it
again -- as it was when spilled (the state file records the years it had judged, so the run
lands the same status rows as one that never spilled) -- and :meth:`FileStates.stage` writes
the changed states still in memory and lists the spilled ones too, so the journal renames them
all. Staged files are never read as committed: the
state files are only ``*.json``, a rollback (the next runner's on a ``running`` journal, or the
run's own on an error: :meth:`FileStates.discard_staged`) deletes every ``*.json.tmp``, and a run
killed at any point leaves the files of the last committed run. A spilled state costs a write and
a read per spill; within a batch the states it touches are all in memory (the bound acts between
batches, not inside one: the embedded driver cuts a batch naming more districts than the bound
into runs of at most that many, streams/district_runs.py).

That is also what :meth:`FileStates.evict` puts a district back to, for the pipeline's per-record
fallback (streams/pipeline.py): its file, plus the events this run has landed for it, replayed in
the rules' replay order (rules/replay.py), plus the ids of the stale versions the run saw for it
(not landed, but remembered per fact by the state, ``rules.state.SEEN_WINDOW`` of them, so that a
re-sent stale version is a duplicate; kept here per fact, as many). Within a fact's window the
stale ids then come after the superseded ones, whatever their order of arrival: the same ids, so
the same outcomes for every later event (the order only decides which id a full window forgets
first).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from junheng.layout import WarehouseLayout
from rules.facts import fact_key_str
from rules.replay import replay_order
from rules.state import DistrictState, Engine
from streams.landing import landed_events
from streams.owners_index import OwnersIndex, identity
from streams.pipeline import StateStore
from streams.processing import BatchResult


class FileStates(StateStore):
    """The district states of ``state/<code>.json``, read when first needed, at most
    ``max_loaded`` kept between batches (None: no bound; changed ones beyond it spilled to their
    staged files), the changed ones written back at commit."""

    def __init__(self, engine: Engine, warehouse: str | Path, max_loaded: int | None = None) -> None:
        self.engine = engine
        self.layout = WarehouseLayout(warehouse)
        self.max_loaded = max_loaded
        self._states: dict[str, DistrictState] = {}  # insertion order = least recently used first
        self._on_disk: set[str] = set()  # districts with a state file (as of load())
        self.owners_index = OwnersIndex(self.layout)
        self.touched: set[str] = set()
        #: the districts this run changed (created, applied or saw stale events): what stage() writes
        self.dirty: set[str] = set()
        self.reads = 0  # state files read (tests and benchmarks count them)
        self.evictions = 0  # clean states dropped by trim()
        self._run_events: list[Path] = []  # the events files this run landed
        #: district -> fact key -> the ids of stale versions this run saw (the newest window)
        self._run_stale: dict[str, dict[str, tuple[str, ...]]] = {}
        #: changed states written to their staged file by trim() and dropped from memory:
        #: district -> its school ids (the owners' index entry stage() writes for it)
        self._spilled: dict[str, list[str]] = {}
        self.spills = 0  # changed states written early to their staged file by trim()
        self.peak_loaded = 0  # the most states in memory at once (tests and benchmarks)

    # MutableMapping
    def __getitem__(self, code: str) -> DistrictState:
        state = self.get(code)
        if state is None:
            raise KeyError(code)
        return state  # type: ignore[no-any-return]

    def get(self, code: str, default: Any = None) -> Any:
        self.touched.add(code)
        state = self._fetch(code)
        return default if state is None else state

    def __setitem__(self, code: str, state: DistrictState) -> None:
        self.touched.add(code)
        self.dirty.add(code)
        self._spilled.pop(code, None)  # its staged file is rewritten (stage) or removed (rollback)
        self._states.pop(code, None)
        self._states[code] = state
        self.peak_loaded = max(self.peak_loaded, len(self._states))

    def __delitem__(self, code: str) -> None:
        if self._spilled.pop(code, None) is None:  # a spilled state is not in memory
            del self._states[code]

    def _codes(self) -> set[str]:
        return self._on_disk | set(self._states) | set(self._spilled)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._codes()))

    def __len__(self) -> int:
        return len(self._codes())

    def __contains__(self, code: object) -> bool:
        return code in self._states or code in self._spilled or code in self._on_disk

    def loaded(self) -> int:
        """How many states are in memory now."""
        return len(self._states)

    def _fetch(self, code: str) -> DistrictState | None:
        """The state in memory (now the most recently used), else this run's spilled state from
        its staged file, else the committed one from its state file, else None."""
        state = self._states.pop(code, None)
        if state is None:
            if code in self._spilled:
                state = self._read(self.staged_file(code))
                del self._spilled[code]  # in memory again; the stale staged file is rewritten or removed
            elif code in self._on_disk:
                state = self._read(self.layout.state_file(code))
            else:
                return None
        self._states[code] = state
        self.peak_loaded = max(self.peak_loaded, len(self._states))
        return state

    def staged_file(self, code: str) -> Path:
        """Where a changed state is staged (early by :meth:`trim`, or by :meth:`stage`): beside its
        file, a name the journal renames at commit and a rollback deletes (``*.json.tmp``)."""
        return self.layout.state_file(code).with_suffix(".json.tmp")

    def iter_states(self, codes: AbstractSet[str] | None = None) -> Iterator[DistrictState]:
        """The states of `codes` (None: every district), in code order, without keeping the clean
        ones read for it: for readers of the whole warehouse (the run's attainment table) in
        bounded memory."""
        every = self._codes()
        for code in sorted(every if codes is None else every & set(codes)):
            state = self._states.get(code)
            if state is None:
                path = self.staged_file(code) if code in self._spilled else self.layout.state_file(code)
                state = self._read(path)
            yield state

    # the run
    def note_landed(self, result: BatchResult, paths: Sequence[Path]) -> None:
        """The run landed `result` as the files `paths`: what :meth:`evict` builds on, and which
        states changed (an applied event or a stale version changes a state; a duplicate or a
        rejected event changes nothing)."""
        self._run_events += [p for p in paths if p.parent.name == "events"]
        window = self.engine.seen_window
        self.dirty.update(e["district_code"] for e in result.applied)
        for event in result.stale:
            self.dirty.add(event["district_code"])
            facts = self._run_stale.setdefault(event["district_code"], {})
            key = fact_key_str(event)
            facts[key] = (*facts.get(key, ()), str(event["event_id"]).lower())[-window:] if window > 0 else ()

    def forget_run(self) -> None:
        """The run committed (its states are the files now, the spilled ones renamed too) or was
        rolled back (its staged files removed: :meth:`discard_staged`)."""
        self._run_events = []
        self._run_stale = {}
        self._spilled = {}
        self.dirty = set()

    def trim(self) -> int:
        """Keep at most ``max_loaded`` states in memory: drop the least recently used clean ones
        beyond it (read from their file again when needed), then, if still beyond it, write the
        least recently used changed ones to their staged file and drop them (:meth:`_spill`; read
        back from there when needed). Call between batches, never amid one (the changed states
        must be those :meth:`note_landed` knows). Returns how many states left memory."""
        if self.max_loaded is None or len(self._states) <= self.max_loaded:
            return 0
        excess = len(self._states) - self.max_loaded
        doomed = [c for c in self._states if c not in self.dirty and c in self._on_disk][:excess]
        for code in doomed:
            del self._states[code]
        self.evictions += len(doomed)
        # every state in memory is clean and on disk, or changed by this run (__setitem__, note_landed)
        spill = [c for c in self._states if c in self.dirty][: len(self._states) - self.max_loaded]
        for code in spill:
            self._spill(code)
        return len(doomed) + len(spill)

    def _spill(self, code: str) -> None:
        """Write a changed state to its staged file and drop it from memory. The file is not
        committed: only the journal's renames at the commit make it the district's state, and a
        rollback (streams/embedded.py) deletes it, so the state files stay those of the last
        committed run. Not fsynced here: :meth:`stage` does, before the journal names it."""
        state = self._states.pop(code)
        self.layout.state.mkdir(parents=True, exist_ok=True)
        with open(self.staged_file(code), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(state.to_state(), ensure_ascii=False))
        self._spilled[code] = list(state.schools)
        self.spills += 1

    def discard_staged(self) -> int:
        """Remove every staged state file (``state/*.json.tmp``): the spilled states of a run
        rolled back, or what a killed run left. Returns how many were removed."""
        removed = 0
        for tmp in self.layout.state.glob("*.json.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    # files
    def load(self) -> None:
        """Every district as its state file says (the last committed run), nothing else: the
        districts with a file are listed and the school owners' index made current; no state is
        read until it is asked for."""
        self.forget_run()
        self._states.clear()
        files = self.layout.state_codes()
        self._on_disk = set(files)
        self.owners_index.refresh(files)

    def school_owners(self) -> dict[str, str]:
        """school id -> the district that registered it, as the committed state files say."""
        return self.owners_index.owners()

    def _read(self, path: Path) -> DistrictState:
        self.reads += 1
        return DistrictState.from_state(self.engine, json.loads(path.read_text(encoding="utf-8")))

    def evict(self, codes: Iterable[str] | None = None) -> None:
        """Put districts back to their state file plus what this run landed for them and the
        stale versions it saw (module docstring), forgetting any spilled copy; all districts: back
        to the files, as after a run was rolled back."""
        if codes is None:
            self.load()
            return
        codes = set(codes)
        if not codes:
            return
        landed: dict[str, list[dict[str, Any]]] = {}
        for event in landed_events(self._run_events, codes) if self._run_events else ():
            landed.setdefault(event["district_code"], []).append(event)
        for code in codes:
            if self._spilled.pop(code, None) is not None:  # rebuilt below: the spilled copy goes
                self.staged_file(code).unlink(missing_ok=True)
            path = self.layout.state_file(code)
            state = self._read(path) if code in self._on_disk else None
            events = landed.get(code)
            if events:
                state = state or self.engine.new_state(code)
                state.apply_batch(replay_order(events))
            self._states.pop(code, None)
            if state is not None:
                for key, stale_ids in self._run_stale.get(code, {}).items():
                    version = state.versions.get(key)
                    if version is not None:
                        state.restore_version(key, version[0], version[1], (*version[2], *stale_ids))
                self._states[code] = state

    def stage(self) -> tuple[list[tuple[Path, Path]], tuple[Path, Path] | None]:
        """Write every changed state still in memory under its staged name beside its file (the
        spilled ones are there already: fsynced now), and the school owners' index after them,
        all or nothing: on an error the staged files written so far are removed and the error
        raised (a full disk leaves ``state/`` as it was; the run's rollback removes the spilled
        ones). Returns the (temporary, final) paths of the states and of the index (None:
        unchanged) for the caller's journal to rename, states first."""
        self.layout.state.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        index: tuple[Path, Path] | None = None
        try:
            for code in sorted(self.dirty):
                path, tmp = self.layout.state_file(code), self.staged_file(code)
                state = self._states.get(code)
                if state is not None:
                    staged.append((tmp, path))
                    with open(tmp, "w", encoding="utf-8") as fh:
                        fh.write(json.dumps(state.to_state(), ensure_ascii=False))
                        fh.flush()
                        os.fsync(fh.fileno())
                    schools: Iterable[str] = state.schools
                elif code in self._spilled:
                    staged.append((tmp, path))
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    schools = self._spilled[code]
                else:  # created, then put back to nothing by the fallback's evict
                    tmp.unlink(missing_ok=True)
                    continue
                self.owners_index.note(code, identity(tmp), schools)
            index = self.owners_index.stage()
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            self.layout.school_owners_index_tmp.unlink(missing_ok=True)
            raise
        return staged, index

    def committed(self, staged: Iterable[tuple[Path, Path]]) -> None:
        """The staged files are in place: their districts now have files, their states are clean."""
        self._on_disk.update(path.name[: -len(".json")] for _, path in staged)
        self.owners_index.committed()
