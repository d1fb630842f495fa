"""The worker's district states, rebuilt from the facts table (streams/facts_table.py).

The worker does not keep its ``DistrictState`` objects in Kafka (a district's state is megabytes
and changes with every event): the facts table holds each district's facts, and a district's
state is rebuilt from them -- replayed in the rules' replay order (rules/replay.py), then the
version records restored -- the first time it is needed after start-up or a rebalance, or after
it was forgotten to bound memory. Faust recovers the table from its changelog before it hands the
agent any event of the partition, so the replay sees every fact the previous owner wrote.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rules.facts import fact_key_str
from rules.replay import replay_order
from rules.state import APPLIED, DistrictState, Engine
from streams.bulk import OutMessage
from streams.facts_table import TableSchoolOwners, changelog_json, decode_fact, deflate_fact, table_key
from streams.pipeline import StateStore
from streams.processing import BatchResult

log = logging.getLogger("streams.table_states")


class TableStates(StateStore):
    """The worker's district states (a :class:`streams.pipeline.StateStore`), rebuilt on demand
    from the facts table, and the table writes that keep the table up to date with them.

    ``get(code)`` returns the loaded state, else replays the district's facts from the table
    into a new state (None when the table has none, so the Processor starts a fresh one).
    ``touched`` collects the districts read or written since it was last cleared.

    Memory: a state holds its district's schools' facts and derived values (~8 KB per school and
    year of data), so a worker owning thousands of districts cannot keep them all. ``trim()``,
    called after a batch's facts are in the table, forgets the least recently used states beyond
    ``max_loaded``; a forgotten district is rebuilt from the table when it is next needed (tens of
    milliseconds). School data arrive in bursts per district (a bureau's report), so rebuilds are
    rare. The keys of each district are indexed (built in one pass over the table the first time
    after start-up or a rebalance, then kept current by ``note_key``) so a rebuild never scans
    the whole table.
    """

    def __init__(
        self,
        engine: Engine,
        table: Mapping[str, Any],
        max_loaded: int | None = None,
        school_owners: TableSchoolOwners | None = None,
    ) -> None:
        """`table`: the Faust table (or, in tests, a plain dict of its values); `school_owners`:
        told about every key the worker writes (a registration claims its school)."""
        self.engine = engine
        self.table = table
        self.max_loaded = max_loaded
        self.school_owners = school_owners
        #: district -> the source partition its events came on, since the last assignment
        self.district_partition: dict[str, int] = {}
        self._states: dict[str, DistrictState] = {}  # insertion order = least recently used first
        self.touched: set[str] = set()
        #: table key -> the newest id of the "seen" window last written/read for it (only when
        #: not empty): a fact whose window gained an id since must be written again
        self.persisted_seen: dict[str, str] = {}
        self._index: dict[str, list[str]] | None = None
        self.rebuilds = 0
        self.rebuild_s = 0.0
        self.evictions = 0

    # MutableMapping
    def get(self, code: str, default: Any = None) -> Any:
        self.touched.add(code)
        state = self._states.pop(code, None)
        if state is not None:
            self._states[code] = state  # most recently used last
        else:
            state = self._load(code)
            if state is not None:
                self._states[code] = state
        return default if state is None else state

    def __getitem__(self, code: str) -> DistrictState:
        state = self.get(code)
        if state is None:
            raise KeyError(code)
        return state  # type: ignore[no-any-return]

    def __setitem__(self, code: str, state: DistrictState) -> None:
        self.touched.add(code)
        self._states[code] = state

    def __delitem__(self, code: str) -> None:
        del self._states[code]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._states))

    def __len__(self) -> int:
        return len(self._states)

    def loaded(self, code: str) -> DistrictState | None:
        return self._states.get(code)

    def evict(self, codes: Iterable[str] | None = None) -> None:
        """Forget in-memory states (all when `codes` is None: after a rebalance, when the table
        is being recovered, so the key index is dropped too); the next get() rebuilds them."""
        if codes is None:
            self._states.clear()
            self._index = None
            self.district_partition.clear()
        else:
            for code in codes:
                self._states.pop(code, None)

    def trim(self) -> int:
        """Forget the least recently used states beyond ``max_loaded``, never one touched since
        ``touched`` was last cleared. Call only when every applied fact is in the table."""
        if self.max_loaded is None or len(self._states) <= self.max_loaded:
            return 0
        doomed = [c for c in self._states if c not in self.touched][: len(self._states) - self.max_loaded]
        for code in doomed:
            del self._states[code]
        self.evictions += len(doomed)
        return len(doomed)

    def note_key(self, code: str, key: str) -> None:
        """A key is about to be written to the table: keep the district's key index current."""
        if self._index is not None and key not in self.table:
            self._index.setdefault(code, []).append(key)

    def _keys_of(self, code: str) -> list[str]:
        if self._index is None:
            index: dict[str, list[str]] = {}
            for k in self.table.keys():
                if isinstance(k, str) and "|" in k:
                    index.setdefault(k.split("|", 1)[0], []).append(k)
            self._index = index
        return self._index.get(code, [])

    def _load(self, code: str) -> DistrictState | None:
        start = time.perf_counter()
        prefix = code + "|"
        facts = [(k, decode_fact(v)) for k in self._keys_of(code) if (v := self.table.get(k)) is not None]
        if not facts:
            return None
        events = replay_order(v["event"] for _, v in facts)
        state = self.engine.new_state(code)
        outcomes, _ = state.apply_batch(events)
        bad = [(e["event_id"], o.outcome, o.reason) for e, o in zip(events, outcomes) if o.outcome != APPLIED]
        if bad:
            log.error("district %s: %d of %d stored facts did not re-apply: %s", code, len(bad), len(events), bad[:5])
        for key, v in facts:
            fk = key[len(prefix) :]
            state.restore_version(fk, int(v["seq"]), str(v["event_id"]), v.get("seen") or ())
            if v.get("seen"):
                self.persisted_seen[key] = str(v["seen"][-1]).lower()
        self.rebuilds += 1
        elapsed = time.perf_counter() - start
        self.rebuild_s += elapsed
        log.info("district %s: state rebuilt from %d facts in %.2f s", code, len(facts), elapsed)
        return state

    # ---------------------------------------------------------------- table writes
    def write_facts(self, partition: int, result: BatchResult) -> list[OutMessage]:
        """One table entry per fact whose version record changed in `result` (one source
        partition's batch): every applied fact, and (when stale events came) every fact whose list
        of seen event ids grew. The local store is written now; the changelog messages, to
        `partition`, are returned for the caller to send in bulk (:func:`streams.bulk.send_bulk`)
        and await before the batch is acknowledged."""
        latest: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for event in result.applied:
            code = event["district_code"]
            fk = fact_key_str(event)
            latest[table_key(code, fk)] = (code, fk, event)
            owner = self.district_partition.setdefault(code, partition)
            if owner != partition:
                log.error(
                    "district %s arrives on partitions %d and %d: the producer must key events by district_code",
                    code,
                    owner,
                    partition,
                )
        if result.counts.get("stale"):
            for code in result.touched:
                state = self.loaded(code)
                if state is None:
                    continue
                for fk, version in state.versions.items():
                    tk = table_key(code, fk)
                    if tk not in latest and version[2] and version[2][-1] != self.persisted_seen.get(tk):
                        stored = self.table.get(tk)
                        if stored is not None:
                            latest[tk] = (code, fk, decode_fact(stored)["event"])
        messages: list[OutMessage] = []
        for tk, (code, fk, event) in latest.items():
            state = self.loaded(code)
            version = (
                state.versions[fk]
                if state is not None and fk in state.versions
                else [event["seq"], event["event_id"], []]
            )
            value = {"seq": int(version[0]), "event_id": str(version[1]), "seen": list(version[2]), "event": event}
            self.note_key(code, tk)
            messages.append(self._write_fact(partition, tk, value))
            if version[2]:
                self.persisted_seen[tk] = version[2][-1]
            else:
                self.persisted_seen.pop(tk, None)
        return messages

    def _write_fact(self, partition: int, key: str, value: dict[str, Any]) -> OutMessage:
        """``table[key] = value`` with the changelog message for `partition`: the local store is
        updated now (with the message's JSON bytes, deflated: :func:`deflate_fact`); the returned
        changelog message is the caller's to send (in bulk) and await."""
        raw = changelog_json(value)
        self.table.data[key] = deflate_fact(raw)  # type: ignore[attr-defined]
        if self.school_owners is not None:
            self.school_owners.note_key(key)
        return (self.table.changelog_topic_name, partition, changelog_json(key), raw, None)  # type: ignore[attr-defined]
