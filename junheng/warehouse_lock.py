"""One writer per warehouse: an exclusive lock on ``<warehouse>/junheng.lock``.

Two `junheng run`s on one warehouse used to interleave: both read the same district states,
wrote landing files under the same names and overwrote each other's state files, and both
exited 0 with applied data lost. Every command that changes a warehouse (run, demo, build,
alerts, report) now holds this lock from before it reads anything until it is done.

- It is an OS lock (``flock`` through the maintained `filelock` package): a process that dies,
  even by SIGKILL, releases it, so no stale lock ever needs deleting by hand.
- It is re-entrant within a process (one lock object per warehouse, a hold counter): `junheng
  run` holds it for the whole command and the build it calls takes it again without blocking.
- A second process waits up to ``wait_s`` seconds (default 0: refuse at once) and then gets
  :class:`WarehouseBusy`, whose message is one line naming the holder (pid, command, since)
  and what to do. The holder's description is written into the lock file when the lock is
  taken, so a waiter can read who holds it.
- Subprocesses (dbt) do not inherit the lock's descriptor (Python opens descriptors
  non-inheritable), so a killed command's orphaned child cannot keep the warehouse locked.

The Kafka worker does not take this lock: it runs for days and lands under its own writer id,
and builds read its landing files as they are (each batch's files appear atomically).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from junheng.errors import UserError
from junheng.layout import WarehouseLayout

__all__ = ["LOCK_FILE", "WarehouseBusy", "WarehouseLock", "WarehouseMissing", "WarehouseUnusable", "hold_warehouse"]

LOCK_FILE = WarehouseLayout(".").lock.name


class WarehouseBusy(UserError):
    """Another process holds the warehouse; ``str()`` is one line for the user."""

    def __init__(self, warehouse: Path, holder: dict[str, object] | None, waited_s: float) -> None:
        who = _describe(holder)
        waited = f" after waiting {waited_s:.1f} s" if waited_s > 0.05 else ""
        super().__init__(f"warehouse {warehouse} is busy{waited}: {who}; wait for it to finish or pass --wait SECONDS")
        self.warehouse = warehouse
        self.holder = holder


class WarehouseUnusable(UserError):
    """A command that makes a warehouse was given a path where no folder can be made."""

    def __init__(self, warehouse: Path, exc: OSError) -> None:
        what = "it is a file" if warehouse.exists() else (exc.strerror or str(exc))
        super().__init__(
            f"cannot make a warehouse folder at {warehouse}: {what} "
            f"(give --warehouse a new folder or an existing warehouse)"
        )
        self.warehouse = warehouse


class WarehouseMissing(UserError):
    """A command that reads a warehouse was pointed at a folder that does not exist."""

    def __init__(self, warehouse: Path) -> None:
        super().__init__(
            f"no warehouse at {warehouse}: land events into it first (junheng run FILE --warehouse {warehouse})"
        )
        self.warehouse = warehouse


def _describe(holder: dict[str, object] | None) -> str:
    if not holder:
        return "another process holds its lock"
    return f"process {holder.get('pid')} ({holder.get('command')}) has held it since {holder.get('since')}"


class WarehouseLock:
    """The exclusive lock of one warehouse folder (get it with :meth:`of`)."""

    _registry: dict[Path, WarehouseLock] = {}
    _registry_guard = threading.Lock()

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self.path = WarehouseLayout(warehouse).lock
        # one FileLock per path and process, counting holds across threads (thread_local=False):
        # the build a run calls re-enters the run's lock from the same process
        self._lock = FileLock(str(self.path), thread_local=False, on_acquired=self._write_holder)

    @classmethod
    def of(cls, warehouse: str | Path) -> WarehouseLock:
        """The lock of `warehouse`, the same object for the same folder within a process."""
        folder = Path(warehouse).resolve()
        with cls._registry_guard:
            lock = cls._registry.get(folder)
            if lock is None:
                lock = cls._registry[folder] = cls(folder)
            return lock

    @property
    def held(self) -> bool:
        """Whether this process holds it."""
        return bool(self._lock.is_locked)

    def holder(self) -> dict[str, object] | None:
        """Who holds (or last held) the lock, as its holder wrote it; None if unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
            holder = json.loads(text) if text.strip() else None
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    def acquire(self, wait_s: float = 0.0, create: bool = True) -> None:
        """Take the lock (again, if this process holds it), waiting at most `wait_s` seconds.
        A missing warehouse folder is created, or with ``create=False`` (commands that only
        read one) refused with :class:`WarehouseMissing`."""
        if not self.warehouse.is_dir():
            if not create:
                raise WarehouseMissing(self.warehouse)
            try:
                self.warehouse.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, a parent that cannot be made, no permission
                raise WarehouseUnusable(self.warehouse, exc) from None
        start = time.monotonic()
        try:
            self._lock.acquire(timeout=max(0.0, wait_s), poll_interval=0.1)
        except Timeout:
            raise WarehouseBusy(self.warehouse, self.holder(), time.monotonic() - start) from None

    def release(self) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def hold(self, wait_s: float = 0.0, create: bool = True) -> Iterator[WarehouseLock]:
        self.acquire(wait_s, create)
        try:
            yield self
        finally:
            self.release()

    @staticmethod
    def _write_holder(fd: int) -> None:
        """Called by filelock with the lock file's descriptor right after the lock was taken."""
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:2]]) if sys.argv and sys.argv[0] else "python"
        text = json.dumps(
            {"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        ).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)


def hold_warehouse(
    warehouse: str | Path, wait_s: float = 0.0, create: bool = True
) -> contextlib.AbstractContextManager[WarehouseLock]:
    """``with hold_warehouse(dir, wait_s):`` -- the warehouse's lock for the block."""
    return WarehouseLock.of(warehouse).hold(wait_s, create)
