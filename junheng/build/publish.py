"""Publish, never block: a checked build becomes an immutable file readers open, by one rename.

    published = publish(layout, layout.working_database, info, keep=3)

Builds write the working database (``<warehouse>/work/junheng.duckdb``), which no reader opens. A
build that passed its checkpoint is published:

1. a new folder ``published/.v<N>.tmp/`` gets ``junheng.duckdb`` -- a new DuckDB file written with
   storage version :data:`STORAGE_VERSION`, so DuckDB 1.0 and later (the versions BI drivers
   bundle) can open it -- holding a copy of every ``main.mart_*`` relation of the working database
   as a table, with its comments and NOT NULL columns, and nothing else (no seeds, staging,
   intermediate or snapshot tables: a BI connection sees the marts only) -- or, after an
   incremental build, a byte copy of the current version's file with the rows dbt recomputed
   replaced (junheng/build/publish_delta.py: the same marts, a fraction of the writing); ``export/<mart>.parquet``
   and ``export/_manifest.json`` from that copy; ``manifest.json`` (version, build time, as_of,
   catalogue, checkpoint run, plan, landing watermark, row counts). Each file is fsynced and made
   read-only; the folder is renamed to ``published/v<N>/`` -- an immutable name, never reused;
2. ``published/current``, a symbolic link, is pointed at ``v<N>`` by renaming a new link over it:
   one atomic step switches the database and the export together;
3. ``<warehouse>/junheng.duckdb`` and ``<warehouse>/export`` are links through ``published/current``
   (made once); readers open those paths;
4. all but the newest ``keep`` versions are removed (never the current one).

A reader that has the file open keeps its snapshot (the old version's inode stays readable until
it closes, even once removed) and never holds a lock a build needs; a reader that connects again
opens the new version. A build that fails, or is killed at any point, publishes nothing: the
current link still names the last good version, and a half-written ``.v<N>.tmp`` is removed by the
next publish.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from junheng.build.errors import BuildError
from junheng.build.export import ExportedMart, export_marts, quoted, sql_literal
from junheng.build.publish_delta import DeltaBase, DeltaMismatch, apply_delta, delta_base, incremental_marts
from junheng.layout import DATABASE_NAME, WarehouseLayout

__all__ = ["HEADER_VERSION", "STORAGE_VERSION", "Published", "current_manifest", "current_version",
           "database_storage_number", "list_marts", "publish"]

#: DuckDB storage format of the published file: the oldest that DuckDB 1.x reads. DuckDB 2 writes
#: its own format by default, which DuckDB 1.x refuses ("database file with version number 999").
STORAGE_VERSION = "v1.0.0"
#: The number a file of that format carries in its header (bytes 12-19, after the magic "DUCK").
HEADER_VERSION = 64
#: DuckDB's memory for copying the marts and writing the export; beyond it, it spills to a folder
#: beside the working database. Unbounded (DuckDB's default is 80 % of the RAM) a national
#: five-year publish took the builder to 2.7 GiB. Rows are copied without keeping their order
#: (readers get no order without ORDER BY; a delta reorders them anyway), which lets DuckDB stream
#: the copy and the Parquet export instead of buffering them: at national scale the export took
#: 900 MiB at 1 GB kept in order, 600 MiB at 512 MB unordered, in the same time (the builder
#: renders the report meanwhile: junheng/build/report_stage.py).
MEMORY_LIMIT = "512MB"
_SPILL = ".publish-spill"
MANIFEST = "manifest.json"
EXPORT = "export"
_STABLE_DATABASE = f"published/current/{DATABASE_NAME}"
_STABLE_EXPORT = f"published/current/{EXPORT}"
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class PublishError(BuildError):
    """Publishing failed; nothing was switched, the marts readers open are unchanged."""


@dataclass
class Published:
    version: int
    folder: Path
    database: Path
    manifest: Path
    marts: dict[str, int]                      # mart → rows
    exports: dict[str, ExportedMart]
    export_manifest: Path
    pruned: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: how it was written: {"mode": "delta", "base_version": N, ...} or {"mode": "whole", "why": ...}
    publishing: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "folder": str(self.folder), "database": str(self.database),
                "manifest": str(self.manifest), "marts": self.marts, "pruned": self.pruned,
                "storage_version": STORAGE_VERSION, "publishing": self.publishing}


# ------------------------------------------------------------------ what is published now


def current_version(layout: WarehouseLayout) -> int | None:
    """The version readers get now (None before the first publish)."""
    try:
        return WarehouseLayout.parse_version(os.readlink(layout.current))
    except OSError:
        return None


def current_manifest(layout: WarehouseLayout) -> dict[str, Any] | None:
    """The current version's manifest.json (None before the first publish)."""
    version = current_version(layout)
    if version is None:
        return None
    try:
        doc = json.loads((layout.published_version(version) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def database_storage_number(path: Path) -> int:
    """The storage number in a DuckDB file's header (64 for v1.0.0 … v1.1; 999 for DuckDB 2's own)."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20 or head[8:12] != b"DUCK":
        raise ValueError(f"{path} is not a DuckDB database file")
    return int.from_bytes(head[12:20], "little")


def list_marts(con: Any, catalog: str) -> list[str]:
    """The relations a BI connection gets: ``main.mart_*`` tables and views of `catalog`."""
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = 'main' "
        "and starts_with(table_name, 'mart_') and not temporary "
        "union select view_name from duckdb_views() where database_name = ? and schema_name = 'main' "
        "and starts_with(view_name, 'mart_') and not temporary order by 1", [catalog, catalog]).fetchall()
    return [r[0] for r in rows]


# ------------------------------------------------------------------ publishing


def publish(layout: WarehouseLayout, working: Path, info: Mapping[str, Any], *, keep: int) -> Published:
    """Publish the marts of the `working` database as the next version and make it current.
    `info` goes into the manifest (as_of, catalogue, checkpoint run id, plan, landing watermark).
    Raises :class:`PublishError` (nothing switched) when the copy cannot be written."""
    root = layout.published
    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(layout)
    version = _next_version(root)
    final = layout.published_version(version)
    tmp = root / f".{final.name}.tmp"
    timings: dict[str, float] = {}
    base, why = delta_base(layout, current_version(layout), current_manifest(layout), info, STORAGE_VERSION)
    try:
        tmp.mkdir()
        marts, exports, publishing = _write(layout, working, tmp, version, info, timings, base, why)
        number = database_storage_number(tmp / DATABASE_NAME)
        if number != HEADER_VERSION:
            raise PublishError("publish", f"the published copy has storage number {number}, not {HEADER_VERSION} "
                                          f"({STORAGE_VERSION}): DuckDB 1.x readers could not open it")
        _seal(tmp)
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, PublishError) or not isinstance(exc, Exception):
            raise
        raise PublishError("publish", f"publishing the marts of {working} as version {version} failed, nothing "
                                      f"was published and readers keep the previous marts: "
                                      f"{type(exc).__name__}: {' '.join(str(exc).split())}") from exc
    t = time.perf_counter()
    _switch(layout, final.name)
    _stable_links(layout)
    pruned = prune(layout, keep)
    timings["switch"] = round(time.perf_counter() - t, 3)
    exports = {k: ExportedMart(str(final / EXPORT / Path(v.path).name), v.rows) for k, v in exports.items()}
    return Published(version=version, folder=final, database=final / DATABASE_NAME, manifest=final / MANIFEST,
                     marts=marts, exports=exports, export_manifest=final / EXPORT / "_manifest.json",
                     pruned=pruned, timings=timings, publishing=publishing)


def _write(layout: WarehouseLayout, working: Path, folder: Path, version: int, info: Mapping[str, Any],
           timings: dict[str, float], base: DeltaBase | None,
           why: str) -> tuple[dict[str, int], dict[str, ExportedMart], dict[str, Any]]:
    """The database, the export and the manifest of one version, into `folder`: the `base` version
    plus the build's changes (publish_delta.py), or, without a base or when it does not fit, every
    mart copied."""
    import duckdb

    t = time.perf_counter()
    spill = working.parent / _SPILL
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill),
                                 "preserve_insertion_order": False})
    try:
        con.execute(f"attach {sql_literal(working)} as work (read_only)")
        marts = list_marts(con, "work")
        if not marts:
            raise PublishError("publish", f"{working} holds no main.mart_* table: nothing was published and "
                                          "readers keep the previous marts")
        rows: dict[str, int] | None = None
        publishing: dict[str, Any] = {"mode": "whole", "why": why}
        if base is not None:
            try:
                rows = _delta(con, layout, base, folder / DATABASE_NAME, marts)
                publishing = {"mode": "delta", "base_version": base.version, "full_bytes": base.full_bytes}
            except (DeltaMismatch, duckdb.Error, OSError) as exc:
                _drop_copy(con, folder / DATABASE_NAME)
                publishing["why"] = f"the current version did not fit as the base ({' '.join(str(exc).split())})"
        if rows is None:
            rows = _copy_whole(con, folder / DATABASE_NAME, marts)
        timings["publish"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        document = {
            "version": version,
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            **{k: v for k, v in info.items() if k in ("as_of", "catalogue", "jurisdiction", "checkpoint_run_id")},
        }
        exports = export_marts(con, "pub", rows, folder / EXPORT, document)
        timings["export"] = round(time.perf_counter() - t, 3)
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.execute("detach work")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    if publishing["mode"] == "whole":
        publishing["full_bytes"] = (folder / DATABASE_NAME).stat().st_size
    manifest = {"version": version, "built_at": document["built_at"], **info,
                "database": DATABASE_NAME, "storage_version": STORAGE_VERSION, "duckdb": duckdb.__version__,
                "publish": publishing, "marts": {m: {"rows": rows[m]} for m in marts}}
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n",
                                   encoding="utf-8")
    return rows, exports, publishing


def _copy_whole(con: Any, target: Path, marts: list[str]) -> dict[str, int]:
    """Every mart of ``work`` copied into a new file `target`, attached as ``pub``."""
    con.execute(f"attach {sql_literal(target)} as pub (storage_version '{STORAGE_VERSION}')")
    rows: dict[str, int] = {}
    for mart in marts:
        con.execute(f"create table pub.main.{quoted(mart)} as select * from work.main.{quoted(mart)}")
        (rows[mart],) = con.execute(f"select count(*) from pub.main.{quoted(mart)}").fetchone() or (0,)
    _copy_definitions(con, marts)
    return rows


def _delta(con: Any, layout: WarehouseLayout, base: DeltaBase, target: Path, marts: list[str]) -> dict[str, int]:
    """A byte copy of the `base` version's file as `target`, attached as ``pub``, with the build's
    changes applied (publish_delta.py). Its storage stays the base's (checked after, as for a copy)."""
    incremental = incremental_marts(layout.dbt_target / "manifest.json")
    shutil.copyfile(base.database, target)
    target.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    con.execute(f"attach {sql_literal(target)} as pub")
    return apply_delta(con, marts, incremental)


def _drop_copy(con: Any, target: Path) -> None:
    """Forget a delta that did not fit: the half-changed copy detached and removed."""
    import duckdb

    try:
        con.execute("detach pub")
    except duckdb.Error:
        pass   # it was never attached
    for path in (target, target.with_name(target.name + ".wal")):
        path.unlink(missing_ok=True)


def _copy_definitions(con: Any, marts: list[str]) -> None:
    """What a BI tool shows of a mart besides its types: the table and column comments dbt
    persisted, and which columns are NOT NULL (dbt's contracts)."""
    wanted = set(marts)
    for name, comment in con.execute(
            "select table_name, comment from duckdb_tables() where database_name = 'work' and schema_name = 'main' "
            "and comment is not null union all select view_name, comment from duckdb_views() "
            "where database_name = 'work' and schema_name = 'main' and comment is not null").fetchall():
        if name in wanted:
            con.execute(f"comment on table pub.main.{quoted(name)} is {sql_literal(comment)}")
    for name, column, comment in con.execute(
            "select table_name, column_name, comment from duckdb_columns() where database_name = 'work' "
            "and schema_name = 'main' and comment is not null").fetchall():
        if name in wanted:
            con.execute(f"comment on column pub.main.{quoted(name)}.{quoted(column)} is {sql_literal(comment)}")
    for name, columns in con.execute(
            "select table_name, constraint_column_names from duckdb_constraints() where database_name = 'work' "
            "and schema_name = 'main' and constraint_type = 'NOT NULL'").fetchall():
        if name in wanted:
            for column in columns:
                con.execute(f"alter table pub.main.{quoted(name)} alter column {quoted(column)} set not null")


def _seal(folder: Path) -> None:
    """Every file of the version on disk and read-only, then the folders' entries."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            path.chmod(_READ_ONLY)
        elif path.is_dir():
            _fsync_dir(path)
    _fsync_dir(folder)


def _switch(layout: WarehouseLayout, name: str) -> None:
    """Point ``published/current`` at `name` by renaming a new link over it (atomic)."""
    root = layout.published
    tmp = root / ".current.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)
    os.replace(tmp, layout.current)
    _fsync_dir(root)


def _stable_links(layout: WarehouseLayout) -> None:
    """``junheng.duckdb`` and ``export`` of the warehouse as links through ``published/current``.

    A warehouse of the earlier layout has a database file and an export folder there; each is
    replaced once (an open reader of the old file keeps reading it)."""
    for stable, target in ((layout.database, _STABLE_DATABASE), (layout.export, _STABLE_EXPORT)):
        try:
            if os.readlink(stable) == target:
                continue
        except OSError:
            pass
        aside = None
        if stable.is_dir() and not stable.is_symlink():   # the earlier export folder
            aside = layout.published / f".earlier-{stable.name}-{os.getpid()}"
            os.rename(stable, aside)
        tmp = stable.with_name(f".{stable.name}.link-tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, stable)
        wal = stable.with_name(f"{stable.name}.wal")   # the earlier file's write-ahead log, now stale
        wal.unlink(missing_ok=True)
        if aside is not None:
            _remove(aside)
    _fsync_dir(layout.root)


def prune(layout: WarehouseLayout, keep: int) -> list[int]:
    """Remove all but the `keep` newest versions up to the current one (and any version above it,
    which was never made current); never the current one, whatever `keep`. Returns the removed
    versions."""
    current = current_version(layout)
    versions = sorted(_versions(layout.published))
    if current is None:
        return []
    older = [v for v in versions if v < current]
    kept = {current, *(older[-(keep - 1):] if keep > 1 else [])}
    removed = [v for v in versions if v not in kept]
    for v in removed:
        _remove(layout.published_version(v))
    return removed


def _versions(root: Path) -> list[int]:
    out = []
    for entry in os.scandir(root):
        v = WarehouseLayout.parse_version(entry.name)
        if v is not None and entry.is_dir(follow_symlinks=False):
            out.append(v)
    return out


def _next_version(root: Path) -> int:
    """One above every version in the folder: a name once made current is never given again, so
    a path a reader holds never names other marts."""
    return max(_versions(root), default=0) + 1


def _remove_leftovers(layout: WarehouseLayout) -> None:
    """What an interrupted publish left: hidden ``.v<N>.tmp`` folders and link temporaries, and a
    version above the current one (renamed into place, killed before the switch: never current,
    so no reader can have opened it, and its name may be given again)."""
    root = layout.published
    current = current_version(layout) or 0
    for entry in os.scandir(root):
        version = WarehouseLayout.parse_version(entry.name)
        if (entry.name.startswith(".") and (entry.name.endswith(".tmp") or entry.name.startswith(".earlier-"))) \
                or (version is not None and version > current):
            _remove(root / entry.name)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
