"""The working database: what dbt builds and the checkpoint checks, never opened by readers.

``<warehouse>/work/state.json`` says what it holds: written after a publish (the published version,
the build plan's ``state``, and the database file's size and time), removed before dbt touches the
database. A build that finds it
(for the current published version) passes that ``state`` to :func:`junheng.incremental.make_plan`
as ``previous``; one that does not -- the last build failed, was cancelled or killed, or the file
was never published, or the file was written since (dbt run by hand) -- passes None, and the plan
is a full rebuild. So a half-written working database is never trusted, and after an incremental
build the working database is the published version plus the changed district-years, which is
what publishing copies (junheng/build/publish_delta.py).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping

from junheng.layout import WarehouseLayout

__all__ = ["forget", "previous_state", "record", "set_aside_if_unreadable"]


def previous_state(layout: WarehouseLayout, published_version: int | None,
                   notes: list[str] | None = None) -> dict[str, Any] | None:
    """The plan state the working database holds, if it is the published version's; else None.
    A database written since (``dbt build`` by hand into it: docs/marts.md) is not that version's
    any more: what dbt added would be neither recomputed nor published as a change. Why it is not
    trusted goes to `notes`."""
    try:
        state = json.loads(layout.working_state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or published_version is None or state.get("version") != published_version:
        return None
    recorded = state.get("database")
    if recorded is not None and recorded != _identity(layout):
        if notes is not None:
            notes.append(f"the working database was written after version {published_version} was published "
                         "(dbt run by hand?): rebuilt in full")
        return None
    plan = state.get("plan_state")
    return plan if isinstance(plan, dict) else None


def _identity(layout: WarehouseLayout) -> list[list[Any]]:
    """Size and modification time of the working database and its write-ahead log: any write
    changes them; readers (the checkpoint, publishing, the report) do not."""
    out: list[list[Any]] = []
    for path in (layout.working_database, layout.working_database.with_name(layout.working_database.name + ".wal")):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append([path.name, st.st_size, st.st_mtime_ns])
    return out


def forget(layout: WarehouseLayout) -> None:
    """Before dbt changes the working database: it no longer matches any published build."""
    layout.working_state.unlink(missing_ok=True)


def record(layout: WarehouseLayout, version: int, plan_state: Mapping[str, Any]) -> None:
    """After a publish: the working database is what version `version` was built from."""
    layout.work.mkdir(parents=True, exist_ok=True)
    tmp = layout.working_state.with_name(f".{layout.working_state.name}.tmp")
    document = {"version": version, "plan_state": dict(plan_state), "database": _identity(layout)}
    tmp.write_text(json.dumps(document, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, layout.working_state)


def set_aside_if_unreadable(layout: WarehouseLayout) -> str | None:
    """A working database DuckDB cannot open (not a lock: a damaged file) is moved aside, so the
    build starts a fresh one; returns what was done, or None when there was nothing to do."""
    import duckdb

    database = layout.working_database
    if not database.exists():
        return None
    try:
        duckdb.connect(str(database), read_only=True).close()
        return None
    except duckdb.Error as exc:
        from junheng.build.busy import is_lock_error

        if is_lock_error(str(exc)):
            return None   # held by another process: check_writable names it
        aside = database.with_name(f"{database.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(database, aside)
        wal = Path(f"{database}.wal")
        if wal.exists():
            os.replace(wal, Path(f"{aside}.wal"))
        forget(layout)
        return f"the working database could not be opened ({exc}); moved to {aside.name}, rebuilding from the landing"
