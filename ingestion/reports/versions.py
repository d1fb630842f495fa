"""Which version a report's fact gets: its ``seq`` follows what is already known, so a report always
supersedes older figures, and a retry after a failure is safe.

Two sources of what is known:

- the **warehouse** (``--warehouse``): the applied events of its landing (both drivers land every
  applied event, so this is the embedded state and the Kafka state alike): per fact the highest
  applied ``seq`` and its payload. A fact whose payload equals the applied one is not emitted again;
  any other gets ``seq`` one above everything known. An earlier load whose events never arrived
  (a failed produce, a dead letter) is therefore simply emitted again.
- the **load state** (``--state``, a small JSON file): per fact the fingerprint and ``seq`` of what
  this loader emitted last. Without a warehouse it alone decides what changed; with one it only
  keeps ``seq`` above what is still in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from junheng.layout import WarehouseLayout

__all__ = ["LoadState", "WarehouseVersions", "fact_id", "fingerprint"]


def fact_id(event_type: str, school_id: str, year: int) -> str:
    """The fact key of a school fact (rules.facts.fact_key_str's form: type|entity|year|sub)."""
    return f"{event_type}|{school_id}|{year}|"


def fingerprint(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


class LoadState:
    """What this loader emitted last, per fact: [fingerprint, seq] (a JSON file)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.known: dict[str, list[Any]] = {}
        if self.path is not None and self.path.exists():
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            # files of the first loader keyed facts as type|school|year (no trailing |)
            self.known = {(k if k.endswith("|") else k + "|"): v for k, v in raw.items()}

    def get(self, fact: str) -> tuple[str, int] | None:
        v = self.known.get(fact)
        return None if v is None else (str(v[0]), int(v[1]))

    def set(self, fact: str, fp: str, seq: int) -> None:
        self.known[fact] = [fp, seq]

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.known, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


class WarehouseVersions:
    """The applied versions of school facts in a warehouse's landing."""

    def __init__(self, warehouse: str | Path) -> None:
        self.layout = WarehouseLayout(warehouse)
        self.latest: dict[str, tuple[int, Any]] = {}
        events = self.layout.landing_table("events")
        if not any(events.glob("part-*.parquet")):
            return
        import duckdb

        glob = str(events / "part-*.parquet").replace("'", "''")
        rows = (
            duckdb.connect()
            .execute(f"""
            select event_type, school_id, year, seq, payload
            from read_parquet('{glob}')
            where starts_with(event_type, 'school.') and event_type <> 'school.project'
            qualify row_number() over (partition by event_type, school_id, year order by seq desc) = 1
        """)
            .fetchall()
        )
        for etype, school_id, year, seq, payload in rows:
            self.latest[fact_id(etype, school_id, int(year))] = (int(seq), json.loads(payload))

    def get(self, fact: str) -> tuple[int, Any] | None:
        return self.latest.get(fact)
