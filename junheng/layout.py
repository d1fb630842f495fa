"""A warehouse folder's layout: every path and file name under it, in one place.

    wh = WarehouseLayout(settings().warehouse)
    wh.landing_table("events")        # <warehouse>/landing/events
    wh.database                       # <warehouse>/junheng.duckdb

Every module that reads or writes a warehouse asks this object for its paths, so a folder is named
once (it used to be spelt in five modules), and the landing files' names are built and parsed by
the same two functions. This module is part of the configuration layer: it imports nothing of the
project and does no I/O beyond what a method says (``reset_demo``).

    <warehouse>/
        junheng.lock            the exclusive lock of commands that change the warehouse
        landing/<table>/part-<batch:012d>-<writer>.parquet     (hidden .part-….parquet.tmp while written)
        state/<district>.json   the embedded driver's district states; state/run.journal
        state/school-owners.index   which district registered each school (not *.json: no state)
        work/junheng.duckdb     the working database dbt builds (no reader opens it); work/state.json
        work/dbt_project/       the dbt project dbt runs: the package's models, macros, … copied, and the
                                seeds rendered for this warehouse's catalogue and district list
        jurisdiction.json       the warehouse's jurisdiction: catalogue (name or path, version), district
                                list (path, digest), as the last run, worker or build recorded it
        published/v<N>/         one published build, immutable: junheng.duckdb (the marts only,
                                readable by DuckDB 1.x), export/<mart>.parquet, manifest.json
        published/current       -> v<N>: the published build readers get (switched by one rename)
        junheng.duckdb          -> published/current/junheng.duckdb: the marts readers open
        export/                 -> published/current/export: the marts as Parquet; export/_manifest.json
        dbt-target/, dbt-logs/  dbt's output
        serve.json              what `junheng serve` is doing and last did; serve.lock its lock
        gx/results/, gx/data_docs/   the marts checkpoint
        alerts/state.json       the alert book
        report/index.html       the report
        worker-data/            the Faust worker's data dir; worker-counts.json its counts
        demo/                   what `junheng demo` generated (and the mark that the folder is a demo)
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATABASE_NAME", "LANDING_TABLES", "LandingFile", "WarehouseLayout"]

#: the landing tables of the stream and of `junheng dlq` (streams/landing.py writes them; dbt reads
#: them; a build's watermark counts their files, so `junheng serve` rebuilds when one changed)
LANDING_TABLES = (
    "events",
    "section_results",
    "district_status",
    "dead_letters",
    "dead_letter_actions",
    "district_gaps",
    "district_outlook",
)
_VERSION = re.compile(r"^v(\d{6,})$")
#: the marts' file name, working and published (DuckDB names a file's catalogue after it)
DATABASE_NAME = "junheng.duckdb"
_PART = re.compile(r"^\.?part-(\d+)-(.+?)\.parquet(\.tmp)?$")


@dataclass(frozen=True)
class LandingFile:
    """The name of one landing file: a batch number and the writer that landed it."""

    batch: int
    writer: str

    @property
    def name(self) -> str:
        return f"part-{self.batch:012d}-{self.writer}.parquet"

    @property
    def temporary_name(self) -> str:
        """While it is being written (no ``*.parquet`` glob matches it)."""
        return f".{self.name}.tmp"

    @classmethod
    def parse(cls, name: str) -> LandingFile | None:
        """The batch and writer of a landing file's (or its temporary's) name; None for another file."""
        m = _PART.match(name)
        return cls(int(m.group(1)), m.group(2)) if m else None


@dataclass(frozen=True)
class WarehouseLayout:
    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    # ---------------------------------------------------------------- landing
    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def landing_table(self, table: str) -> Path:
        return self.landing / table

    # ---------------------------------------------------------------- the embedded driver
    @property
    def state(self) -> Path:
        return self.root / "state"

    def state_file(self, district_code: str) -> Path:
        return self.state / f"{district_code}.json"

    def state_codes(self) -> dict[str, tuple[int, int, int]]:
        """The districts that have a state file, each with its file's identity (inode, size,
        mtime in ns), read from the folder listing: no state file is opened."""
        out: dict[str, tuple[int, int, int]] = {}
        if not self.state.is_dir():
            return out
        with os.scandir(self.state) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and entry.is_file():
                    st = entry.stat()
                    out[entry.name[: -len(".json")]] = (st.st_ino, st.st_size, st.st_mtime_ns)
        return out

    @property
    def journal(self) -> Path:
        return self.state / "run.journal"  # not *.json: state/*.json are the district states

    @property
    def school_owners_index(self) -> Path:
        """streams/owners_index.py's file (not *.json: state/*.json are the district states)."""
        return self.state / "school-owners.index"

    @property
    def school_owners_index_tmp(self) -> Path:
        return self.state / "school-owners.index.tmp"

    # ---------------------------------------------------------------- the build
    @property
    def database(self) -> Path:
        """The marts readers open: a link to the current published build's database."""
        return self.root / DATABASE_NAME

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def working_database(self) -> Path:
        """What dbt builds; named like the published file so dbt and DuckDB call its catalogue
        ``junheng`` too."""
        return self.work / DATABASE_NAME

    @property
    def working_state(self) -> Path:
        """What the working database holds (present only while it matches a published build)."""
        return self.work / "state.json"

    @property
    def dbt_project(self) -> Path:
        """The warehouse's own dbt project: the package's project (only ever read) copied, with the
        seeds of this warehouse's jurisdiction rendered into it; dbt runs here."""
        return self.work / "dbt_project"

    @property
    def jurisdiction(self) -> Path:
        """The catalogue and district list the warehouse's events were judged and its marts built with."""
        return self.root / "jurisdiction.json"

    @property
    def published(self) -> Path:
        return self.root / "published"

    def published_version(self, version: int) -> Path:
        return self.published / f"v{version:06d}"

    @staticmethod
    def parse_version(name: str) -> int | None:
        """The version of a published folder's name (``v000012`` → 12); None for another name."""
        m = _VERSION.match(name)
        return int(m.group(1)) if m else None

    @property
    def current(self) -> Path:
        """The link to the published build readers get, replaced by one rename per publish."""
        return self.published / "current"

    @property
    def serve_status(self) -> Path:
        return self.root / "serve.json"

    @property
    def serve_lock(self) -> Path:
        """Held by the one `junheng serve` of the warehouse (builds take :attr:`lock` as well)."""
        return self.root / "serve.lock"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt-target"

    @property
    def dbt_logs(self) -> Path:
        return self.root / "dbt-logs"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def export_manifest(self) -> Path:
        return self.export / "_manifest.json"

    @property
    def gx(self) -> Path:
        return self.root / "gx"

    @property
    def gx_results(self) -> Path:
        return self.gx / "results"

    @property
    def gx_data_docs(self) -> Path:
        return self.gx / "data_docs"

    # ---------------------------------------------------------------- alerts, report
    @property
    def alerts(self) -> Path:
        return self.root / "alerts"

    @property
    def alert_book(self) -> Path:
        return self.alerts / "state.json"

    @property
    def report(self) -> Path:
        return self.root / "report" / "index.html"

    # ---------------------------------------------------------------- the worker
    @property
    def worker_data(self) -> Path:
        return self.root / "worker-data"

    @property
    def worker_counts(self) -> Path:
        return self.root / "worker-counts.json"

    # ---------------------------------------------------------------- the lock, the demo
    @property
    def lock(self) -> Path:
        return self.root / "junheng.lock"

    @property
    def demo(self) -> Path:
        return self.root / "demo"

    @property
    def demo_mark(self) -> Path:
        """Written by `junheng demo` into a folder it created: only such a folder is ever reset."""
        return self.demo / ".junheng-demo"

    def is_demo(self) -> bool:
        return self.demo_mark.is_file()

    def is_empty(self) -> bool:
        """No folder, or nothing in it but the lock file."""
        return not self.root.exists() or all(p == self.lock for p in self.root.iterdir())

    def reset_demo(self) -> None:
        """Remove everything a demo run made (landing, states, marts, exports, alerts, report,
        dbt and GX output), keeping the lock file. Only for a folder marked as a demo."""
        if not self.is_demo():
            raise ValueError(f"{self.root} is not a demo warehouse ({self.demo_mark} is missing)")
        for path in self.root.iterdir():
            if path == self.lock:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
