"""ProcessValidator: the GX suites in a child process, so the Kafka worker's event loop and the
suites use the machine's two cores at once.

Why. A Great Expectations call costs ~0.1-0.2 s of CPU per micro-batch whatever its size, all of
it Python holding the GIL. In the worker that time was added to every batch *and* stopped the
event loop, so Faust could neither fetch nor hand over the next batch's messages meanwhile; at a
0.2 s window it was most of each batch (benchmarks/latency.py: p99 2.3 s). In a child process the
suites run while the worker's loop keeps reading Kafka, landing and sending.

Protocol. One child, ``python -m expectations.process_validator FD SUITES`` (a fresh interpreter:
a fork of a process with Kafka threads and an event loop is not safe, and ``multiprocessing``'s
spawn would re-import the parent's ``__main__``), builds its own
:class:`~expectations.validator.BatchValidator` and answers requests on its end of a socket pair,
framed and pickled by ``multiprocessing.connection``: ``("events", dicts)`` or ``("raw", accepted message bytes)`` in,
``("ok", reasons)`` or ``("error", exception)`` out. Requests are serialised by a lock: one batch at a time, as
in-process.

Failure. An error GX raised on a batch comes back as that exception (the worker's fallback for a
bug in validation handles it as before). The child dying (killed, out of memory) is not a
verdict on the batch: the validator starts a new child and asks again, once; if that fails too it
raises :class:`ValidatorUnavailable`, which the worker treats like a failed disk -- stop without
committing, the batch is re-delivered. The child exits on its own when its parent dies: its end of
the pipe then reads EOF (a SIGKILLed worker leaves no orphaned GX process behind).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ProcessValidator", "ValidatorUnavailable"]


class ValidatorUnavailable(RuntimeError):
    """The validation child died twice in a row on one batch: no verdict can be given."""


def _serve(conn: Connection, suites_dir: str) -> None:
    """The child's loop: build the validator once, then validate until the pipe closes."""
    try:
        from expectations.validator import SUITES_DIR, BatchValidator

        validator = BatchValidator(suites_dir or SUITES_DIR)
    except BaseException as exc:  # a broken suite: tell the parent instead of dying silently
        conn.send(("error", exc))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            kind, items = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe or died
            return
        try:
            reply: tuple[str, Any] = ("ok", _validate(validator, kind, items))
        except Exception as exc:
            reply = ("error", exc)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception:  # an exception that does not pickle: send what it said
            conn.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


def _validate(validator: Any, kind: str, items: list[Any]) -> list[str | None]:
    """Events as dicts, or ("raw") the messages the worker's contract check accepted, which the
    child decodes again (:func:`~ingestion.contract.decode_accepted`: the same decoder and upcast,
    so the events are the ones the worker checked, without checking them twice) -- bytes cost the
    worker almost nothing to send, dicts cost a pickle."""
    if kind == "events":
        return list(validator.validate(items))
    from ingestion.contract import decode_accepted

    return list(validator.validate([decode_accepted(raw) for raw in items]))


class ProcessValidator:
    """A :class:`~expectations.validator.BatchValidator` running in a child process.

    ``validate(events)`` blocks; ``await validate_async(events)`` waits on a thread, leaving the
    event loop free; ``validate_raw`` / ``validate_raw_async`` take the messages instead (see
    :func:`_validate`). All return, per event, None or ``gx:<suite>:<expectation>:<column>``.
    Construction starts the child and waits until its suites are built (GX's import takes
    seconds), so a suite error surfaces at start-up, as in-process.
    """

    def __init__(self, suites_dir: Path | str | None = None, start_timeout_s: float = 180.0) -> None:
        self._suites_dir = str(suites_dir or "")  # "": the shipped suites
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None
        self.restarts = 0
        self._closed = False
        self._start()

    @property
    def pid(self) -> int | None:
        """The child's process id (None once closed)."""
        return self._process.pid if self._process is not None else None

    def usage(self) -> dict[str, Any]:
        """The child's pid, restarts, CPU seconds and peak RSS (Linux /proc; None elsewhere or
        once closed): the worker reports them beside its own, since its CPU figures leave the
        child out."""
        from junheng.metrics import process_memory_mib

        pid = self.pid
        cpu_s = peak_mib = None
        if pid is not None:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu_s = round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 3)
            except (OSError, ValueError, IndexError):
                pass
            peak = process_memory_mib(pid, "VmHWM")
            peak_mib = None if peak is None else round(peak, 1)
        return {"pid": pid, "restarts": self.restarts, "cpu_s": cpu_s, "peak_rss_mib": peak_mib}

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-m", "expectations.process_validator", str(theirs.fileno()), self._suites_dir],
            pass_fds=(theirs.fileno(),),
            env=env,
            cwd=str(PROJECT_ROOT),
        )
        theirs.close()  # only the child holds its end: its recv sees EOF when we are gone
        conn = Connection(ours.detach())
        if not conn.poll(self._start_timeout_s):
            process.kill()
            process.wait(5)
            conn.close()
            raise ValidatorUnavailable(f"the GX child did not start within {self._start_timeout_s:.0f} s")
        try:
            kind, value = conn.recv()
        except EOFError:
            kind, value = "error", ValidatorUnavailable(f"the GX child exited with {process.wait(5)} at start")
        if kind != "ready":
            conn.close()
            process.wait(5)
            raise value
        self._process, self._conn = process, conn

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None

    def _round_trip(self, batch: tuple[str, list[Any]]) -> tuple[str, Any]:
        """Send a batch, return the child's reply; OSError/EOFError mean the child is gone."""
        if self._conn is None:
            raise EOFError("no GX child")
        self._conn.send(batch)
        reply: tuple[str, Any] = self._conn.recv()
        return reply

    def validate(self, events: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """Per event, None if it passes, else the reason (see BatchValidator.validate)."""
        return self._call(("events", [e if type(e) is dict else dict(e) for e in events]))

    def validate_raw(self, raws: Sequence[bytes]) -> list[str | None]:
        """The verdicts for the events these messages decode to (each one passed
        ``ingestion.contract.check_event`` already): the worker's way, see :func:`_validate`."""
        return self._call(("raw", list(raws)))

    async def validate_raw_async(self, raws: Sequence[bytes]) -> list[str | None]:
        """:meth:`validate_raw` on a thread: the event loop runs while the child validates."""
        return await asyncio.get_running_loop().run_in_executor(None, self.validate_raw, raws)

    def _call(self, batch: tuple[str, list[Any]]) -> list[str | None]:
        with self._lock:
            if self._closed:
                raise ValidatorUnavailable("the validator was closed")
            try:
                kind, value = self._round_trip(batch)
            except (EOFError, OSError):  # the child died: start another and ask it once
                self._stop()
                self.restarts += 1
                try:
                    self._start()
                    kind, value = self._round_trip(batch)
                except (EOFError, OSError) as exc:
                    self._stop()
                    raise ValidatorUnavailable(f"the GX child died twice on one batch: {exc!r}") from exc
        if kind == "error":  # GX raised on this batch: the same exception as in-process
            raise value
        return list(value)

    async def validate_async(self, events: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """:meth:`validate` on a thread: the event loop runs while the child validates."""
        return await asyncio.get_running_loop().run_in_executor(None, self.validate, events)

    def close(self) -> None:
        """Stop the child (closing the pipe ends its loop)."""
        with self._lock:
            self._closed = True
            self._stop()

    def __enter__(self) -> ProcessValidator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), sys.argv[2])
