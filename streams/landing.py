"""Landing files for dbt: Parquet, written in batches, each file renamed into place only when
complete, so a reader (dbt, DuckDB, a BI tool) never sees half a file.

Layout: <root>/<table>/part-<batch>-<writer>.parquet. A file name sorts by batch, and every
row carries the batch number (`landed_batch`) and its position (`landed_pos`), so "the latest
version of a row" is well defined for dbt whatever the file-system order.

A batch lands all or nothing (`write_batch`): every table's file is first written and fsynced
under a hidden temporary name (``.part-....parquet.tmp``, which no ``*.parquet`` glob matches),
and only when all of them are complete are they renamed into place. A write that fails -- disk
full (ENOSPC), file too large (EFBIG), I/O error -- removes the batch's temporary files and raises,
so no file of a failed batch is visible and the caller can retry the whole batch: the worker stops
without committing its offsets, the embedded driver rolls its run back (tests/faults/test_sink_faults.py).
(The tests inject a full disk by patching ``_stage``: tests/plugins/faults.py.)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from junheng.layout import LandingFile
from streams.processing import dead_letter_id

# Explicit schemas: a table's columns must not depend on which values a batch happened to hold
# (an all-null column would otherwise change type between files and break dbt's union).
SCHEMAS: dict[str, pa.Schema] = {
    "events": pa.schema(
        [
            ("event_id", pa.string()),
            ("event_type", pa.string()),
            ("schema_version", pa.int32()),
            ("occurred_at", pa.string()),
            ("source", pa.string()),
            ("district_code", pa.string()),
            ("school_id", pa.string()),
            ("year", pa.int32()),
            ("seq", pa.int64()),
            ("payload", pa.string()),
        ]
    ),
    "section_results": pa.schema(
        [
            ("district_code", pa.string()),
            ("school_id", pa.string()),
            ("year", pa.int32()),
            ("section", pa.string()),
            ("active", pa.bool_()),
            ("students", pa.int64()),
            ("included", pa.bool_()),
            ("indicators_met", pa.int32()),
            ("passed", pa.bool_()),
            ("reason", pa.string()),
            ("values", pa.string()),
            ("met", pa.string()),
            ("gap_options", pa.string()),
            ("gap_catalogue_version", pa.string()),
        ]
    ),
    "district_status": pa.schema(
        [
            ("district_code", pa.string()),
            ("year", pa.int32()),
            ("resource_passed", pa.bool_()),
            ("government_passed", pa.bool_()),
            ("quality_passed", pa.bool_()),
            ("social_passed", pa.bool_()),
            ("prerequisite_passed", pa.bool_()),
            ("vetoed", pa.bool_()),
            ("attained", pa.bool_()),
            ("failed_items", pa.string()),
            ("undecided_items", pa.string()),
            ("previous_attained", pa.bool_()),
        ]
    ),
    "district_gaps": pa.schema(
        [
            ("district_code", pa.string()),
            ("year", pa.int32()),
            ("balance", pa.string()),
            ("items", pa.string()),
            ("catalogue_version", pa.string()),
        ]
    ),
    "district_outlook": pa.schema(
        [
            ("district_code", pa.string()),
            ("year", pa.int32()),
            ("declared_creation_year", pa.int32()),
            ("plan_deadline_year", pa.int32()),
            ("attained", pa.bool_()),
            ("projected_year", pa.int32()),
            ("at_risk", pa.bool_()),
            ("risk_items", pa.string()),
            ("unprojectable", pa.string()),
            ("items", pa.string()),
            ("catalogue_version", pa.string()),
        ]
    ),
    "dead_letters": pa.schema(
        [
            ("dead_letter_id", pa.string()),
            ("reason", pa.string()),
            ("reason_code", pa.string()),
            ("origin", pa.string()),
            ("raw", pa.string()),
        ]
    ),
    # what `junheng dlq` did to a dead letter (streams/dead_letters.py): replayed or discarded
    "dead_letter_actions": pa.schema(
        [
            ("dead_letter_id", pa.string()),
            ("action", pa.string()),
            ("outcome", pa.string()),
            ("resolved", pa.bool_()),
            ("note", pa.string()),
        ]
    ),
}
_META = [("landed_batch", pa.int64()), ("landed_pos", pa.int32()), ("landed_at", pa.string())]


def event_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """An applied event as a landing row: the envelope as columns, the payload as JSON text.

    The event is the contract check's (version 1's shape, whatever version it arrived in), and
    `schema_version` is the version it arrived in, kept for lineage (docs/events.md)."""
    return {
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "schema_version": event["schema_version"],
        "occurred_at": event["occurred_at"],
        "source": event["source"],
        "district_code": event["district_code"],
        "school_id": event.get("school_id"),
        "year": event["year"],
        "seq": event["seq"],
        "payload": json.dumps(event["payload"], ensure_ascii=False, sort_keys=True),
    }


def landed_events(paths: Iterable[Path], districts: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The applied events landed in the ``events`` files `paths` (of `districts` only, if given),
    as the contract check gave them to the engine (:func:`event_row` undone), in the order they
    were landed: by ``landed_batch``, then ``landed_pos``."""
    columns = list(SCHEMAS["events"].names) + ["landed_batch", "landed_pos"]
    rows: list[dict[str, Any]] = []
    for path in paths:
        table = pq.read_table(
            path, columns=columns, filters=None if districts is None else [("district_code", "in", sorted(districts))]
        )
        rows += table.to_pylist()
    rows.sort(key=lambda r: (r["landed_batch"], r["landed_pos"]))
    return [
        {
            "event_id": r["event_id"],
            "event_type": r["event_type"],
            "schema_version": r["schema_version"],
            "occurred_at": r["occurred_at"],
            "source": r["source"],
            "district_code": r["district_code"],
            "school_id": r["school_id"],
            "year": r["year"],
            "seq": r["seq"],
            "payload": json.loads(r["payload"]),
        }
        for r in rows
    ]


def landed_dead_letter_ids(root: str | Path) -> set[str]:
    """The ids of every dead letter landed under `root` (the landing folder). Files landed before
    dead letters had ids get theirs computed from the code and the text (exact unless the line
    was cut at 64 KiB or was not UTF-8)."""
    ids: set[str] = set()
    for path in sorted(Path(root).glob("dead_letters/part-*.parquet")):
        if "dead_letter_id" in pq.read_schema(path).names:
            ids.update(i for i in pq.read_table(path, columns=["dead_letter_id"]).column(0).to_pylist() if i)
        else:
            table = pq.read_table(path, columns=["reason_code", "raw"])
            ids.update(
                dead_letter_id(c, (r or "").encode("utf-8"))
                for c, r in zip(table.column("reason_code").to_pylist(), table.column("raw").to_pylist(), strict=True)
            )
    return ids


class LandingWriter:
    """Writes one Parquet file per table per batch under `root`, atomically. `schemas` adds
    tables of other writers (alerting lands its history the same way)."""

    def __init__(
        self, root: str | Path, writer_id: str | None = None, schemas: Mapping[str, pa.Schema] | None = None
    ) -> None:
        self.root = Path(root)
        self.writer_id = writer_id or uuid.uuid4().hex[:8]
        self.schemas: dict[str, pa.Schema] = {**SCHEMAS, **(schemas or {})}
        self.root.mkdir(parents=True, exist_ok=True)
        #: every file this writer renamed into place, in order (a driver rolls a failed run back with it)
        self.landed: list[Path] = []

    def write(self, table: str, rows: Sequence[Mapping[str, Any]], batch: int) -> Path | None:
        """Land one table's rows as its file of `batch` (None when there are no rows)."""
        paths = self.write_batch({table: rows}, batch)
        return paths[0] if paths else None

    def write_batch(self, tables: Mapping[str, Sequence[Mapping[str, Any]]], batch: int) -> list[Path]:
        """Land several tables' rows as one batch, all or nothing: every file is written and
        fsynced under a temporary name first, then all are renamed into place. On any error the
        temporary files are removed and the error is raised, with none of the batch's files
        visible. Returns the landed paths (tables without rows get no file)."""
        staged: list[tuple[Path, Path]] = []
        try:
            for table, rows in tables.items():
                if rows:
                    staged.append(self._stage(table, rows, batch))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in staged:
            os.replace(tmp, final)  # a rename: needs no space, so a full disk cannot stop it halfway
            self.landed.append(final)
        return [final for _, final in staged]

    def _stage(self, table: str, rows: Sequence[Mapping[str, Any]], batch: int) -> tuple[Path, Path]:
        """Write and fsync one table's file under its temporary name; (temporary, final) path."""
        schema = self.schemas[table]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        data = {name: [r.get(name) for r in rows] for name in schema.names}
        data["landed_batch"] = [batch] * len(rows)
        data["landed_pos"] = list(range(len(rows)))
        data["landed_at"] = [stamp] * len(rows)
        full = pa.schema(list(schema) + [pa.field(n, t) for n, t in _META])
        arrow = pa.Table.from_pydict(data, schema=full)
        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        name = LandingFile(batch, self.writer_id)
        final, tmp = folder / name.name, folder / name.temporary_name
        try:
            pq.write_table(arrow, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, final

    def next_batch_number(self) -> int:
        """One past the highest batch already landed, so a restarted writer never reuses a name."""
        highest = -1
        for path in self.root.glob("*/part-*.parquet"):
            landed = LandingFile.parse(path.name)
            if landed is not None:
                highest = max(highest, landed.batch)
        return highest + 1
