"""What a build must recompute: the plan a build asks for before it runs dbt.

    plan = make_plan(layout, previous=<the state the last published build recorded, or None>)
    dbt build ... plan.dbt_args          (["--full-refresh"], or what an incremental build may skip)
    ... after a successful publish, record plan.state beside the published marts

**Incremental** (the default once a build was published): dbt recomputes only the district-years
the new landing files touch. Which files are new, and which district-years they touch, the
warehouse works out itself, in SQL (dbt_project/macros/incremental.sql): the working database's
``incremental.landing_ledger`` lists the landing files its tables include, ``landing_new_files`` the
others, ``changed_districts`` the districts they touch with the first year to recompute. So the
plan passes dbt no list (no ``--vars``: a var that changes from build to build makes dbt re-parse
the whole project, ~3-7 s), only what it may skip: the unit tests (they test the SQL, which the
fingerprint says is unchanged) and dbt's data tests (whole-table scans; the marts checkpoint checks
the changed district-years, and every full rebuild runs them).

**Full refresh** (``--full-refresh``: every table rebuilt from every landing file) when

- there is no previous state (first build, or the last one failed: the working database is not
  trusted), or it was written by another version of this module;
- the **fingerprint** changed: the catalogue's name and version, the rendered seeds (the
  catalogue's numbers and the district list), the dbt project's models, macros, snapshots and
  ``dbt_project.yml``, the versions of dbt, dbt-duckdb and DuckDB;
- landing files the last build included are gone (a folder cleaned or compacted): the tables hold
  rows no file has any more.

``state`` records the fingerprint (a hash per file, so a reason can say what changed) and the
landing watermark: per table and writer (``part-<batch>-<writer>.parquet``; batch numbers grow per
writer, not across writers), the highest batch and the number of files up to it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from junheng.layout import LandingFile, WarehouseLayout

__all__ = ["BuildPlan", "INCREMENTAL_TABLES", "STATE_VERSION", "fingerprint", "make_plan", "watermark"]

#: the version of the state's layout; a state of another version plans a full rebuild
STATE_VERSION = 1
#: the landing tables built incrementally (dbt_project/macros/incremental.sql)
INCREMENTAL_TABLES = ("events", "section_results", "district_status", "district_gaps", "district_outlook")
#: the parts of the dbt project whose change changes the marts
_PROJECT_PARTS = ("models", "macros", "snapshots")
_PROJECT_FILES = ("dbt_project.yml",)
_SOFTWARE = ("dbt-core", "dbt-duckdb", "duckdb")
#: what an incremental build skips: the unit tests (they test the SQL, unchanged: see the
#: fingerprint) and dbt's data tests (each scans a whole table: at national scale they would cost
#: more than the build; the marts checkpoint checks the changed district-years instead, and every
#: full rebuild runs them all). The seeds are loaded all the same (a few tenths of a second): a
#: working database restored without them must not fail the build.
INCREMENTAL_DBT_ARGS = ("--exclude", "test_type:unit", "resource_type:test")


@dataclass(frozen=True)
class BuildPlan:
    full_refresh: bool
    reason: str  # why this plan, for the build's summary
    dbt_args: list[str] = field(default_factory=list)  # appended to `dbt build` (not --vars as_of)
    dbt_vars: dict[str, Any] = field(default_factory=dict)  # merged into the build's --vars
    state: dict[str, Any] = field(default_factory=dict)  # to record once published


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def fingerprint(project_dir: Path | str | None = None) -> dict[str, Any]:
    """What the marts are computed with: the catalogue (name and version, from the seed the build
    checked against the catalogue), a hash per seed file and per SQL/YAML file of the dbt project,
    and the software versions."""
    from junheng import settings

    project = Path(project_dir) if project_dir else settings.PROJECT_ROOT / "dbt_project"
    seeds = {p.name: _digest(p.read_bytes()) for p in sorted((project / "seeds").glob("*")) if p.is_file()}
    files: dict[str, str] = {}
    for part in _PROJECT_PARTS:
        for p in sorted((project / part).rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                files[p.relative_to(project).as_posix()] = _digest(p.read_bytes())
    for name in _PROJECT_FILES:
        p = project / name
        if p.is_file():
            files[name] = _digest(p.read_bytes())
    catalogue, version = _catalogue_of(project / "seeds" / "catalogue_settings.csv")
    software: dict[str, str | None] = {}
    for dist in _SOFTWARE:
        try:
            software[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            software[dist] = None
    parts = {
        "catalogue": catalogue,
        "catalogue_version": version,
        "seeds": seeds,
        "project": files,
        "software": software,
    }
    whole = repr(sorted((k, repr(v)) for k, v in parts.items())).encode("utf-8")
    return {"hash": _digest(whole), **parts}


def _catalogue_of(seed: Path) -> tuple[str | None, str | None]:
    try:
        rows = list(csv.DictReader(io.StringIO(seed.read_text(encoding="utf-8"))))
    except OSError:
        return None, None
    return (rows[0].get("catalogue"), rows[0].get("catalogue_version")) if rows else (None, None)


def watermark(layout: WarehouseLayout) -> dict[str, dict[str, dict[str, int]]]:
    """Per landing table and writer: the highest batch landed and how many files it has."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for table in INCREMENTAL_TABLES:
        writers: dict[str, dict[str, int]] = {}
        folder = layout.landing_table(table)
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        for name in names:
            if name.startswith("."):
                continue  # a file being written: the next build's
            f = LandingFile.parse(name)
            if f is None:
                continue
            w = writers.setdefault(f.writer, {"batch": f.batch, "files": 0})
            w["batch"] = max(w["batch"], f.batch)
            w["files"] += 1
        out[table] = writers
    return out


def _files_up_to(layout: WarehouseLayout, table: str, writer: str, batch: int) -> int:
    folder = layout.landing_table(table)
    if not folder.is_dir():
        return 0
    count = 0
    for p in folder.iterdir():
        f = LandingFile.parse(p.name)
        if f is not None and not p.name.startswith(".") and f.writer == writer and f.batch <= batch:
            count += 1
    return count


def _what_changed(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """The fingerprint's change in words."""
    said = []
    if (before.get("catalogue"), before.get("catalogue_version")) != (
        now.get("catalogue"),
        now.get("catalogue_version"),
    ):
        said.append(
            f"the catalogue changed ({before.get('catalogue')} {before.get('catalogue_version')} → "
            f"{now.get('catalogue')} {now.get('catalogue_version')})"
        )
    seeds = _changed_names(before.get("seeds") or {}, now.get("seeds") or {})
    if "districts.csv" in seeds:
        said.append("the district list changed (seed districts.csv)")
        seeds.remove("districts.csv")
    if seeds:
        said.append("the catalogue's seeds changed (" + ", ".join(seeds) + ")")
    files = _changed_names(before.get("project") or {}, now.get("project") or {})
    if files:
        shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
        said.append(f"the dbt project changed ({shown})")
    if before.get("software") != now.get("software"):
        said.append(f"the software changed ({before.get('software')} → {now.get('software')})")
    return "; ".join(said) or "the fingerprint changed"


def _changed_names(before: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))


def make_plan(
    layout: WarehouseLayout, previous: Mapping[str, Any] | None, *, project_dir: Path | str | None = None
) -> BuildPlan:
    """The build plan for `layout` given what the last published build recorded (``previous``,
    None: nothing published, or the last build failed). ``project_dir``: the dbt project the build
    runs -- the warehouse's own (``<warehouse>/work/dbt_project``, its seeds rendered for the
    warehouse's catalogue and district list, so a change of either is a full rebuild); default the
    package's ``dbt_project/``."""
    marks = watermark(layout)
    fp = fingerprint(project_dir)
    state = {"version": STATE_VERSION, "fingerprint": fp, "watermark": marks}

    def full(reason: str) -> BuildPlan:
        return BuildPlan(full_refresh=True, reason=f"full rebuild: {reason}", dbt_args=["--full-refresh"], state=state)

    if previous is None:
        return full("no published build to start from")
    if previous.get("version") != STATE_VERSION:
        return full(f"the last build's state is of version {previous.get('version')!r}, not {STATE_VERSION}")
    before_fp = previous.get("fingerprint") or {}
    if before_fp.get("hash") != fp["hash"]:
        return full(_what_changed(before_fp, fp))

    new: dict[str, int] = {}
    for table in INCREMENTAL_TABLES:
        before = (previous.get("watermark") or {}).get(table) or {}
        now = marks.get(table) or {}
        for writer, mark in before.items():
            if writer not in now or _files_up_to(layout, table, writer, int(mark["batch"])) < int(mark["files"]):
                return full(f"landing files of {table} (writer {writer}) that the last build included are gone")
        new[table] = sum(w["files"] for w in now.values()) - sum(int(w["files"]) for w in before.values())
    total = sum(new.values())
    detail = ", ".join(f"{t} {n}" for t, n in new.items() if n)
    reason = (
        f"incremental: {total} new landing file{'s' if total != 1 else ''} ({detail}); only the "
        "district-years they touch are recomputed"
        if total
        else "incremental: no new landing file"
    )
    return BuildPlan(full_refresh=False, reason=reason, dbt_args=list(INCREMENTAL_DBT_ARGS), state=state)
