"""A dbt process kept warm across builds, for the builder that builds again and again (`junheng serve`).

``dbt build`` started afresh spends ~2.5 s importing dbt and setting up the adapter and the
project before its first model; an incremental city build's models take ~1.7 s. A
:class:`DbtSession` starts one child process (junheng/build/dbt_child.py) and sends it each dbt
command, so only the first build pays the start. The child is what a fresh dbt process is in
every other respect:

- a separate process, started with a parent-death signal (:func:`~junheng.build.dbt.dies_with_parent`),
  so a builder killed by SIGKILL takes it along; the signal follows the *thread* that started it,
  so a session is used from the thread that lives as long as the process (serve's main thread);
- each command gets the environment and folder a fresh process would (the child replaces its own);
  dbt's partial parsing notices changed files, variables and environment variables as it does
  between processes, and dbt-duckdb closes the database when the command ends, so the build's
  later stages can open the working database for writing;
- a cancelled build kills the child (dbt stops at once, as a terminated process does); a child
  that died, or that grew past ``max_rss_mib`` after a command (DuckDB keeps the memory it used),
  is replaced at the next command, so a long-running builder does not keep a national build's
  memory between builds.

One command at a time (a lock); one-shot commands (`junheng build`, `junheng run`) start dbt
afresh instead, since they would pay the start anyway.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Mapping, Sequence

from junheng.build.dbt_child import DONE

__all__ = ["DEFAULT_MAX_RSS_MIB", "DbtSession", "SessionEnded", "stop_on_cancel"]

#: a child holding more than this after a command is replaced (MiB of resident memory)
DEFAULT_MAX_RSS_MIB = 1024
_CHILD = Path(__file__).with_name("dbt_child.py")


class SessionEnded(Exception):
    """The child process ended during a command (its exit code in ``returncode``)."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"dbt's session process ended during the command (exit {returncode})")
        self.returncode = returncode


class DbtSession:
    """One long-lived dbt child process; :meth:`invoke` runs a dbt command in it."""

    def __init__(self, max_rss_mib: int = DEFAULT_MAX_RSS_MIB) -> None:
        self.max_rss_mib = max_rss_mib
        self.commands = 0          # commands run, over every child
        self.started = 0           # children started
        self.recycled = 0          # children replaced for their memory
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The running child's pid (None when none runs)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Start the child now (it imports dbt while the caller does something else)."""
        with self._lock:
            self._ensure()

    def invoke(self, args: Sequence[str], env: Mapping[str, str], cwd: Path, on_line: Callable[[str], object],
               cancel: threading.Event | None = None) -> int:
        """Run ``dbt <args>`` in the child with ``env`` and ``cwd``; each line dbt prints goes to
        ``on_line``. Returns dbt's exit code; raises :class:`SessionEnded` when the child ended
        meanwhile (killed, crashed, or killed here because ``cancel`` was set)."""
        with self._lock:
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            done = threading.Event()
            if cancel is not None:
                stop_on_cancel(cancel, done.is_set, proc.kill)
            try:
                self.commands += 1
                try:
                    proc.stdin.write(json.dumps({"args": list(args), "env": dict(env), "cwd": str(cwd)}) + "\n")
                    proc.stdin.flush()
                except OSError:   # it ended before the command (its output says why, if anything)
                    pass
                for line in proc.stdout:
                    head, marker, payload = line.rstrip("\n").partition(DONE)
                    if head:
                        on_line(head)
                    if marker:
                        code = int(json.loads(payload)["rc"])
                        break
                else:
                    raise SessionEnded(self._reap())
            finally:
                done.set()
            if self._rss_mib() > self.max_rss_mib:
                self.recycled += 1
                self._stop()
            return code

    def close(self) -> None:
        """End the child (it exits when its stdin closes; killed if it does not)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> DbtSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the child
    def _ensure(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._reap()
        from junheng.build.dbt import dies_with_parent

        self._proc = subprocess.Popen(
            dies_with_parent([sys.executable, "-u", "-P", str(_CHILD)]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
            env=dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false"))
        self.started += 1
        return self._proc

    def _reap(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        return code

    def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
        self._reap()

    def _rss_mib(self) -> float:
        """The child's resident memory now (0 when unknown: not Linux, or it ended)."""
        from junheng.metrics import process_memory_mib

        pid = self.pid
        return (process_memory_mib(pid) or 0.0) if pid is not None else 0.0


def stop_on_cancel(cancel: threading.Event, finished: Callable[[], bool], stop: Callable[[], None]) -> None:
    """Call ``stop`` once if ``cancel`` is set before ``finished()`` turns true (a thread that
    polls both every 0.2 s): how a cancelled build stops its dbt, fresh or warm."""
    def watch() -> None:
        while not finished():
            if cancel.wait(0.2):
                if not finished():
                    stop()
                return

    threading.Thread(target=watch, name="junheng-dbt-cancel", daemon=True).start()
