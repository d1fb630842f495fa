"""The facts table: how the worker keeps district state in Kafka (docs/streaming.md, "District
state: the facts table").

Key ``"<district>|<event_type>|<entity>|<year>|<sub>"`` (the district plus the rules' fact key),
value ``{"seq", "event_id", "seen", "event"}`` -- the applied event and its version record. This
module holds what the table is made of: its keys, its value codec (plain JSON on the changelog,
deflated in memory), its store (Faust's memory store with one fix, and an index of school
registrations) and the school owners the processing core reads from it. The district states
rebuilt from it are streams/table_states.py's.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
from faust import stores as faust_stores
from faust.serializers import codecs
from faust.stores.memory import Store as MemoryStore

FACTS_TABLE = "facts"


def table_key(district: str, fact_key: str) -> str:
    return f"{district}|{fact_key}"


# --------------------------------------------------------------------------- compact facts
# The memory:// store keeps every fact of every owned district. As decoded dicts a fact costs
# ~2.9 KB, as the changelog's JSON bytes ~0.7 KB, deflated with a preset dictionary ~0.35 KB
# (national scale, one year: 1.05 million facts; docs/benchmarks.md "Scale"). So the table keeps
# facts deflated: only in memory -- the changelog stays plain JSON, the format of
# docs/streaming.md -- and the codec below deflates what recovery reads from the changelog too.
_DEFLATED = b"\x00"  # first byte of a deflated value; JSON never starts with NUL
_ZDICT: bytes | None = None
_DEFLATE_PRIMED: Any = None  # a compressobj with the preset dictionary set, copied per fact


def _zdict() -> bytes:
    """The preset dictionary: one stored value per event type, built from the contract's
    examples, so the field names and fixed strings every fact repeats cost almost nothing. It
    only has to be the same within one process (deflated values never leave it)."""
    global _ZDICT
    if _ZDICT is None:
        from ingestion.contract.examples import EXAMPLES

        _ZDICT = b"".join(
            codecs.dumps("json", {"seq": 0, "event_id": e["event_id"], "seen": [], "event": e})
            for e in EXAMPLES.values()
        )[-8192:]
    return _ZDICT


def deflate_fact(raw: bytes) -> bytes:
    """A fact's JSON bytes as the table keeps them in memory."""
    global _DEFLATE_PRIMED
    if raw[:1] == _DEFLATED:
        return raw
    # Copying a compressor that already has the dictionary is about half the cost of a new
    # one (which hashes the whole dictionary every time); the output is byte for byte the same.
    if _DEFLATE_PRIMED is None:
        # an 8 KiB window (the dictionary's limit, _zdict) and memLevel 4 (facts are < 1 KiB):
        # the same sizes as 32 KiB / 8 and a quarter less time per fact, the copy being smaller;
        # inflate_fact's 32 KiB window reads either
        _DEFLATE_PRIMED = zlib.compressobj(6, zlib.DEFLATED, -13, 4, zlib.Z_DEFAULT_STRATEGY, _zdict())
    c = _DEFLATE_PRIMED.copy()
    deflated: bytes = _DEFLATED + c.compress(raw) + c.flush()
    return deflated


def changelog_json(obj: Any) -> bytes:
    """A JSON-native value (the table's keys and values) as the changelog's compact JSON, which
    Faust's ``json`` codec reads back. orjson writes it (UTF-8, ~4x faster than ``json``: the
    encoding of every applied fact was a tenth of the worker's CPU); what orjson refuses (an
    integer beyond 64 bits, nesting deeper than 254) goes through ``json`` as before. NaN and
    Infinity, which orjson would turn into null, never get here: the contract check rejects them."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(obj, separators=(",", ":")).encode()


def inflate_fact(value: bytes) -> bytes:
    """The JSON bytes of a table value (deflated or not)."""
    if value[:1] != _DEFLATED:
        return value
    d = zlib.decompressobj(-15, _zdict())
    return d.decompress(value[1:]) + d.flush()


def decode_fact(value: Any) -> dict[str, Any]:
    """A table value (deflated bytes, JSON bytes or, from older callers, a dict) as a dict."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json.loads(inflate_fact(bytes(value)))  # type: ignore[no-any-return]
    if isinstance(value, str):
        return json.loads(value)  # type: ignore[no-any-return]
    return value  # type: ignore[no-any-return]


class CompactFactCodec(codecs.Codec):
    """The facts table's value serializer: on the wire (changelog) plain JSON, in the store
    deflated. ``loads`` is what Faust applies to every changelog message it recovers or keeps as
    a standby; ``dumps`` gives back the JSON (the worker sends its own writes, see _write_fact)."""

    def _loads(self, s: bytes) -> Any:
        return deflate_fact(bytes(s))

    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray)):
            return inflate_fact(bytes(obj))
        return codecs.dumps("json", obj)


FACT_CODEC = "junheng_facts"
codecs.register(FACT_CODEC, CompactFactCodec())


class FactsStore(MemoryStore):  # type: ignore[type-arg]
    """Faust's memory store, except that it reports the offset it persisted as -1 ("nothing:
    read the changelog from its beginning", what Faust's recovery makes of None anyway) instead
    of None. Recovery registers a newly assigned standby partition with that value; when a
    rebalance lands while the previous round of recovery is still starting its standbys, that
    round seeks the new partition with None and the worker crashes ("ValueError: Offset must be
    a positive integer" -- found by tests/faults, two workers SIGKILLed in turn)."""

    def persisted_offset(self, tp: Any) -> int:
        return -1

    def __post_init__(self) -> None:
        super().__post_init__()
        #: school id -> district, for every school registration this process has seen in the
        #: table: recovered, received as a standby, or written by this worker. Never pruned (a
        #: school's district does not change when a partition moves away).
        self.school_owners: dict[str, str] = {}

    def _create_batch_iterator(self, mark_as_delete: Any, to_key: Any, to_value: Any, batch: Any) -> Any:
        for key, value in super()._create_batch_iterator(mark_as_delete, to_key, to_value, batch):
            note_registration(self.school_owners, key)
            yield key, value


def note_registration(owners: dict[str, str], key: Any) -> None:
    """If `key` is a facts-table key of a school registration ("<district>|school.registered|
    <school_id>|<year>|"), remember the school's district (the first one seen wins)."""
    if isinstance(key, str) and "|school.registered|" in key:
        district, _, school_id = key.split("|", 3)[:3]
        owners.setdefault(school_id, district)


class TableSchoolOwners(MutableMapping[str, str]):
    """The Processor's school owners (streams/processing.py) on the worker: the registrations of
    the facts table, as the store indexes them (:class:`FactsStore`). What the worker sees: its
    own partitions, and the others' it holds as a standby (with two workers and the default one
    standby replica, every partition). Two registrations of one school in districts owned by
    two workers that hold no standby of each other, within the same moment, can both apply;
    `junheng build` then fails its unique test on stg_section_results, naming the school
    (docs/streaming.md, "What one worker cannot see")."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._own: dict[str, str] = {}  # for a table whose store keeps no index (tests' plain dicts)

    def _owners(self) -> dict[str, str]:
        owners = getattr(getattr(self.table, "data", None), "school_owners", None)
        return self._own if owners is None else owners

    def note_key(self, key: Any) -> None:
        """A facts-table key the worker writes: a registration claims its school."""
        note_registration(self._owners(), key)

    def __getitem__(self, school_id: str) -> str:
        return self._owners()[school_id]

    def __setitem__(self, school_id: str, district: str) -> None:
        self._owners().setdefault(school_id, district)

    def __delitem__(self, school_id: str) -> None:
        del self._owners()[school_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._owners())

    def __len__(self) -> int:
        return len(self._owners())


FACTS_STORE_URL = "junheng-memory://"
faust_stores.STORES.aliases.setdefault("junheng-memory", "streams.facts_table:FactsStore")
