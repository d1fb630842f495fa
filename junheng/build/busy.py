"""Who holds a DuckDB file: turn DuckDB's lock error into one line naming the process.

DuckDB allows one writing process or many reading ones per file; a second process gets
``IO Error: Could not set lock on file "…": Conflicting lock is held in /usr/bin/python3 (PID 1234)``
(and, before the build checked it itself, ~100 lines of dbt traceback around it). The build opens
the working database for writing before dbt does: a process holding it is named, with its
command line, and the user is told what to do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from junheng.build.errors import DatabaseBusy

__all__ = ["LockHolder", "check_writable", "is_lock_error", "lock_holder"]

_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.+?) \(PID (?P<pid>\d+)\)(?: by user (?P<user>[^.\s]+))?")
_LOCK_WORDS = ("Could not set lock on file", "Conflicting lock")


@dataclass(frozen=True)
class LockHolder:
    pid: int
    executable: str
    user: str | None = None

    def command(self) -> str | None:
        """The holder's command line, shortened (None once it has exited or elsewhere than Linux)."""
        try:
            raw = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return None
        words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
        text = " ".join(" ".join(words).split())   # one line, whatever the arguments hold
        return text if len(text) <= 120 else text[:117] + "…"

    def describe(self) -> str:
        command = self.command() or self.executable
        user = f", user {self.user}" if self.user else ""
        return f"process {self.pid} ({command}{user})"


def is_lock_error(text: str) -> bool:
    return any(w in text for w in _LOCK_WORDS)


def lock_holder(text: str) -> LockHolder | None:
    """The process DuckDB's lock error names, if it names one."""
    m = _HOLDER.search(text)
    return LockHolder(int(m.group("pid")), m.group("exe"), m.group("user")) if m else None


def busy_error(database: Path, readers_path: Path, text: str, timings: dict[str, float] | None = None) -> DatabaseBusy:
    """The one-line error for `database` being held by another process (DuckDB's message `text`)."""
    holder = lock_holder(text)
    who = holder.describe() if holder else "another process"
    stop = f"stop it (kill {holder.pid}) and build again" if holder else "close it and build again"
    return DatabaseBusy("dbt", f"the working database {database} is open in {who}: only the build may open it "
                               f"(readers open {readers_path}, which never blocks a build); {stop}",
                        timings=timings)


def check_writable(database: Path, readers_path: Path) -> None:
    """Open `database` for writing and close it again, so dbt will be able to: raise
    :class:`DatabaseBusy` naming the holder when another process has it open."""
    import duckdb

    try:
        duckdb.connect(str(database)).close()
    except duckdb.Error as exc:
        if is_lock_error(str(exc)):
            raise busy_error(database, readers_path, str(exc)) from None
        raise
