"""Publishing the changed district-years only: the next version as the current one plus the
build's changes.

Copying every mart into a new file took 9 s of a national one-district correction (2,800
districts, five years: millions of school rows), though dbt had recomputed a few hundred rows.
After an incremental build the working database's marts are, row for row, the current version's
except

- the incremental marts (dbt's strategy ``changed``: dbt_project/macros/incremental.sql) in the
  changed district-years (``incremental.changed_districts``: each district from its first changed
  year; a mart configured ``changed_year=''`` by district alone), and
- the marts dbt builds whole (tables and views: the city, accountability and alert marts), which
  are small.

So :func:`delta_base` says whether the current version can be the base (and why not), and
:func:`apply_delta` turns a byte copy of its file into the next version: the changed rows of the
incremental marts deleted and inserted again from the working database, the whole marts replaced,
then every mart's row count checked against the working database. Anything unexpected raises
:class:`DeltaMismatch` and the publish copies everything instead (publish.py), so a delta is an
optimisation that cannot change what is published.

The base is used only when the working database was built from it (an incremental plan: see
junheng/build/working.py), with the same ``as_of`` and catalogue, and while the file has not grown
past :data:`GROWTH_LIMIT` times the size of the last version copied whole (deleted rows leave
free blocks DuckDB reuses, but not necessarily all of them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from junheng.build.export import quoted
from junheng.layout import DATABASE_NAME, WarehouseLayout

__all__ = ["DeltaBase", "DeltaMismatch", "GROWTH_LIMIT", "apply_delta", "delta_base", "incremental_marts"]

#: A base file larger than this many times the last whole copy is not used: the next version is
#: copied whole (compact) again.
GROWTH_LIMIT = 2.0


class DeltaMismatch(Exception):
    """The working database is not the base plus a delta: publish everything instead."""


@dataclass(frozen=True)
class DeltaBase:
    version: int
    database: Path
    full_bytes: int  # the size of the last version copied whole, this base's ancestor


def delta_base(
    layout: WarehouseLayout,
    current: int | None,
    base_manifest: Mapping[str, Any] | None,
    info: Mapping[str, Any],
    storage_version: str,
) -> tuple[DeltaBase | None, str]:
    """The current version as the base of the next one, or None and why not."""
    plan = info.get("plan") or {}
    if plan.get("full_refresh", True):
        return None, "a full rebuild publishes every row"
    if current is None or base_manifest is None:
        return None, "no version is published"
    for key in ("as_of", "catalogue"):
        if base_manifest.get(key) != info.get(key):
            return None, f"the current version has another {key} ({base_manifest.get(key)!r})"
    if base_manifest.get("storage_version") != storage_version:
        return None, f"the current version has storage {base_manifest.get('storage_version')!r}"
    database = layout.published_version(current) / DATABASE_NAME
    try:
        size = database.stat().st_size
    except OSError as exc:
        return None, f"the current version's file cannot be read ({exc})"
    publishing = base_manifest.get("publish") or {}
    full_bytes = int(publishing.get("full_bytes") or size)
    if size > GROWTH_LIMIT * full_bytes:
        return None, (
            f"the current version's file ({size} bytes) grew past {GROWTH_LIMIT:g}x the last whole copy "
            f"({full_bytes} bytes): compacted by a whole copy"
        )
    return DeltaBase(current, database, full_bytes), "the current version plus the changed district-years"


def incremental_marts(manifest_path: Path) -> dict[str, tuple[str, str | None]]:
    """The marts dbt builds by district-year (strategy ``changed``), from dbt's manifest.json:
    mart → (district column, year column or None). Raises :class:`DeltaMismatch` when it cannot say."""
    try:
        nodes = json.loads(manifest_path.read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeltaMismatch(f"dbt's manifest {manifest_path} cannot be read: {exc}") from None
    out: dict[str, tuple[str, str | None]] = {}
    for node in nodes.values():
        config = node.get("config") or {}
        if (
            node.get("resource_type") == "model"
            and str(node.get("name", "")).startswith("mart_")
            and config.get("materialized") == "incremental"
        ):
            if config.get("incremental_strategy") != "changed":
                raise DeltaMismatch(
                    f"{node['name']} is incremental by {config.get('incremental_strategy')!r}, "
                    "not by changed district-years"
                )
            year = config.get("changed_year", "year")
            out[node["name"]] = (str(config.get("changed_district", "district_code")), str(year) if year else None)
    return out


def _changed(con: Any) -> list[tuple[str, int]]:
    from expectations.marts import changed_districts

    changed = changed_districts(con, "work")
    if changed is None:
        raise DeltaMismatch("the working database has no incremental.changed_districts")
    return changed


def _columns(con: Any, catalog: str, mart: str) -> list[tuple[str, str]]:
    return [
        (str(n), str(t))
        for n, t in con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = 'main' "
            "and table_name = ? order by column_index",
            [catalog, mart],
        ).fetchall()
    ]


def apply_delta(con: Any, marts: list[str], incremental: Mapping[str, tuple[str, str | None]]) -> dict[str, int]:
    """Turn ``pub`` (a copy of the base, attached to `con` beside ``work``) into the working
    database's marts: rows of the changed district-years of the incremental marts, every row of
    the others. Returns mart → rows; raises :class:`DeltaMismatch` when the base does not fit."""
    published = set(
        con.execute(
            "select table_name from duckdb_tables() where database_name = 'pub' and schema_name = 'main'"
        ).fetchall()
    )
    if {(m,) for m in marts} != published:
        raise DeltaMismatch("the base version holds other marts than the working database")
    from expectations.marts import changed_rows_sql

    changed = _changed(con)
    rows: dict[str, int] = {}
    for mart in marts:
        if _columns(con, "work", mart) != _columns(con, "pub", mart):
            raise DeltaMismatch(f"{mart} has other columns than in the base version")
        target, source = f"pub.main.{quoted(mart)}", f"work.main.{quoted(mart)}"
        where = changed_rows_sql(changed, *incremental[mart]) if mart in incremental else "true"
        con.execute(f"delete from {target} where {where}")
        con.execute(f"insert into {target} select * from {source} where {where}")
        (published_rows,) = con.execute(f"select count(*) from {target}").fetchone() or (0,)
        (working_rows,) = con.execute(f"select count(*) from {source}").fetchone() or (0,)
        if published_rows != working_rows:
            raise DeltaMismatch(
                f"{mart}: {published_rows} rows after the delta, {working_rows} in the working database"
            )
        rows[mart] = int(published_rows)
    return rows
