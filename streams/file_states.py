"""The embedded driver's district states: all in memory, kept in ``<warehouse>/state`` between runs.

A run reads every ``state/<district>.json`` when it opens the warehouse (:meth:`FileStates.load`)
and writes them back only when it commits (:meth:`FileStates.stage`, then streams/embedded.py's
journal renames the files into place), so the files are always the states of the last committed
run. What the current run changed in between is in memory, and in the landing files it has written
so far (:meth:`FileStates.note_landed` keeps the list).

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
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from junheng.layout import WarehouseLayout
from rules.facts import fact_key_str
from rules.replay import replay_order
from rules.state import DistrictState, Engine
from streams.landing import landed_events
from streams.pipeline import StateStore
from streams.processing import BatchResult


class FileStates(StateStore):
    """Every district's state in memory, read from and written to ``state/<code>.json``."""

    def __init__(self, engine: Engine, warehouse: str | Path) -> None:
        self.engine = engine
        self.layout = WarehouseLayout(warehouse)
        self._states: dict[str, DistrictState] = {}
        self.touched: set[str] = set()
        self._run_events: list[Path] = []   # the events files this run landed
        #: district -> fact key -> the ids of stale versions this run saw (the newest window)
        self._run_stale: dict[str, dict[str, tuple[str, ...]]] = {}

    # MutableMapping
    def __getitem__(self, code: str) -> DistrictState:
        state = self._states[code]
        self.touched.add(code)
        return state

    def get(self, code: str, default: Any = None) -> Any:
        self.touched.add(code)
        return self._states.get(code, default)

    def __setitem__(self, code: str, state: DistrictState) -> None:
        self.touched.add(code)
        self._states[code] = state

    def __delitem__(self, code: str) -> None:
        del self._states[code]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._states))

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, code: object) -> bool:
        return code in self._states

    # the run
    def note_landed(self, result: BatchResult, paths: Sequence[Path]) -> None:
        """The run landed `result` as the files `paths`: what :meth:`evict` builds on."""
        self._run_events += [p for p in paths if p.parent.name == "events"]
        window = self.engine.seen_window
        for event in result.stale:
            facts = self._run_stale.setdefault(event["district_code"], {})
            key = fact_key_str(event)
            facts[key] = (*facts.get(key, ()), str(event["event_id"]).lower())[-window:] if window > 0 else ()

    def forget_run(self) -> None:
        """The run committed (its states are the files now) or was rolled back."""
        self._run_events = []
        self._run_stale = {}

    # files
    def load(self) -> None:
        """Every district as its state file says (the last committed run), nothing else."""
        self.forget_run()
        self._states.clear()
        folder = self.layout.state
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                state = self._read(path)
                self._states[state.code] = state

    def _read(self, path: Path) -> DistrictState:
        return DistrictState.from_state(self.engine, json.loads(path.read_text(encoding="utf-8")))

    def evict(self, codes: Iterable[str] | None = None) -> None:
        """Put districts back to their state file plus what this run landed for them and the
        stale versions it saw (module docstring); all districts: back to the files, as after a run
        was rolled back."""
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
            path = self.layout.state_file(code)
            state = self._read(path) if path.is_file() else None
            events = landed.get(code)
            if events:
                state = state or self.engine.new_state(code)
                state.apply_batch(replay_order(events))
            if state is not None:
                for key, stale_ids in self._run_stale.get(code, {}).items():
                    version = state.versions.get(key)
                    if version is not None:
                        state.restore_version(key, version[0], version[1], (*version[2], *stale_ids))
                self._states[code] = state
            else:
                self._states.pop(code, None)

    def stage(self) -> list[tuple[Path, Path]]:
        """Write every state under a temporary name beside its file, all or nothing: on an error
        the temporary files written so far are removed and the error raised (a full disk leaves
        ``state/`` as it was). Returns (temporary, final) paths for the caller's journal to rename."""
        self.layout.state.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for code, state in self._states.items():
                path = self.layout.state_file(code)
                tmp = path.with_suffix(".json.tmp")
                staged.append((tmp, path))
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(state.to_state(), ensure_ascii=False))
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        return staged
