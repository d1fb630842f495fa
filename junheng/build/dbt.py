"""``dbt build`` as a subprocess into the working database, its failure in a few lines.

dbt always runs in its own process (never in a worker's event loop): a fresh one per command,
or the warm one a :class:`~junheng.build.dbt_session.DbtSession` keeps (`junheng serve`, which
builds again and again). Either way it gets the venv's dbt beside ``sys.executable``,
``DBT_TARGET_DATABASE_PATH`` naming the working database (the profile, dbt_project/profiles.yml,
reads it), ``JUNHENG_WAREHOUSE`` for the landing, and ``--vars`` holding
``as_of`` and the build plan's variables. The child is started with a parent-death signal, so a
builder killed by SIGKILL (or the OOM killer) takes it along instead of leaving it holding the
working database's write lock; and it is stopped when the build is cancelled.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from junheng.build.busy import busy_error, is_lock_error
from junheng.build.dbt_session import DbtSession, SessionEnded, stop_on_cancel
from junheng.build.errors import BuildCancelled, BuildError
from junheng.layout import WarehouseLayout

__all__ = ["LOG_TAIL_LINES", "dbt_executable", "dies_with_parent", "run_dbt"]

#: dbt output lines kept for the error message.
LOG_TAIL_LINES = 30


def dbt_executable() -> str:
    found = shutil.which("dbt", path=str(Path(sys.executable).parent))
    if found is None:
        raise BuildError("dbt", f"dbt is not installed beside {sys.executable}: run scripts/bootstrap.sh "
                                "(dbt-core and dbt-duckdb are dependencies of the project)")
    return found


def run_dbt(project: Path, warehouse: Path, database: Path, as_of: dt.date, catalogue: str,
            echo: Callable[[str], object] | None, timings: dict[str, float],
            selection: Sequence[str] = (), *, dbt_args: Sequence[str] = (), dbt_vars: Mapping[str, Any] | None = None,
            cancel: threading.Event | None = None, session: DbtSession | None = None) -> dict[str, int]:
    """``dbt build`` of `project` into `database` (`selection`: e.g. ``["--select", "mart_alerts"]``;
    `dbt_args`/`dbt_vars`: the build plan's), in a fresh process or in `session`'s warm one
    (junheng/build/dbt_session.py). Returns the node counts by status; raises :class:`BuildError`
    (:class:`DatabaseBusy` when another process holds the database, :class:`BuildCancelled` when
    `cancel` was set meanwhile)."""
    dbt = dbt_executable()
    layout = WarehouseLayout(warehouse)
    target, logs = layout.dbt_target, layout.dbt_logs
    env = dict(os.environ, JUNHENG_WAREHOUSE=str(warehouse), JUNHENG_CATALOGUE=catalogue,
               DBT_TARGET_DATABASE_PATH=str(database),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false")
    variables = {"as_of": as_of.isoformat(), **(dbt_vars or {})}
    args = ["build", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(target), "--log-path", str(logs),
            "--vars", json.dumps(variables), *selection, *dbt_args]
    results_file = target / "run_results.json"
    started = time.time()
    output = _Output(echo)
    if cancel is not None and cancel.is_set():
        raise BuildCancelled("dbt", "the build was cancelled before dbt started", timings=timings)
    if session is None:
        returncode = _run_process([dbt, *args], env, project, output, cancel, timings)
    else:
        try:
            returncode = session.invoke(args, env, project, output.line, cancel)
        except SessionEnded as exc:
            returncode = exc.returncode if exc.returncode is not None else -1
            output.line(str(exc))
    if cancel is not None and cancel.is_set():
        raise BuildCancelled("dbt", f"the build was cancelled: dbt was stopped (exit {returncode})",
                             timings=timings)
    results = _run_results(results_file, started)
    counts = collections.Counter(r.get("status", "?") for r in results)
    if returncode == 0:
        return dict(counts)
    if output.lock_lines:   # another process holds the working database: say who, not dbt's traceback
        raise busy_error(database, layout.database, output.lock_lines[-1], timings)

    log_tail = "\n".join(output.tail)
    failed = [r for r in results if r.get("status") in ("error", "fail", "runtime error")]
    lines = [f"dbt build failed (exit {returncode})"
             + (f": {len(failed)} of {len(results)} nodes failed" if results else " before running any node")]
    for r in failed[:15]:
        message = " ".join(str(r.get("message") or "").split())
        lines.append(f"  - {r.get('unique_id')}: {r.get('status')}: {message[:300]}")
    if len(failed) > 15:
        lines.append(f"  … and {len(failed) - 15} more (see {results_file})")
    said = _error_lines(output.tail)
    if said:
        lines.append("dbt reported:")
        lines.extend(f"  {line}" for line in said)
    lines.append(f"last lines of dbt's output (full log: {logs / 'dbt.log'}):")
    lines.append(log_tail)
    raise BuildError("dbt", "\n".join(lines), log_tail=log_tail, timings=timings)


class _Output:
    """What a build keeps of dbt's output: the last lines, the lock errors; each line echoed."""

    def __init__(self, echo: Callable[[str], object] | None) -> None:
        self.echo = echo
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self.lock_lines: list[str] = []

    def line(self, raw: str) -> None:
        line = _ANSI.sub("", raw.rstrip("\n"))
        self.tail.append(line)
        if is_lock_error(line):
            self.lock_lines.append(line)
        if self.echo is not None:
            self.echo(line)


def _run_process(cmd: list[str], env: dict[str, str], project: Path, output: _Output,
                 cancel: threading.Event | None, timings: dict[str, float]) -> int:
    """``cmd`` in a fresh process that dies with this one; its exit code."""
    try:
        proc = subprocess.Popen(dies_with_parent(cmd), cwd=str(project), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                errors="replace")
    except OSError as exc:
        raise BuildError("dbt", f"could not start {cmd[0]}: {exc}", timings=timings) from exc
    assert proc.stdout is not None
    if cancel is not None:
        stop_on_cancel(cancel, lambda: proc.poll() is not None, lambda: _terminate(proc))
    with proc:
        for line in proc.stdout:
            output.line(line)
    return proc.returncode


def _terminate(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


#: Run in a fresh interpreter between fork and dbt: ask the kernel for SIGKILL when the parent
#: dies (Linux prctl PR_SET_PDEATHSIG = 1; it survives the exec), give up if the parent is already
#: gone, then exec the command. A separate process rather than a preexec_fn, which is not safe
#: while other threads run (the GX import runs in one meanwhile).
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(137)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def dies_with_parent(cmd: Sequence[str]) -> list[str]:
    """``cmd`` wrapped so the child is killed with this process: a build killed by SIGKILL (or
    OOM) must not leave dbt running on, holding the working database's write lock so the next
    build fails to open it. Linux only (elsewhere ``cmd`` as it is)."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    exe = shutil.which(cmd[0]) or cmd[0]
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), exe, *cmd[1:]]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE = re.compile(r"(Error|ERROR|Exception|error:|Failure in|Compilation Error|Runtime Error)")


def _error_lines(tail: Sequence[str], keep: int = 6) -> list[str]:
    """The lines of dbt's output that state an error (not traceback frames), last ``keep``, once each."""
    out: list[str] = []
    for line in tail:
        text = line.strip()
        if not text or text.startswith(("File \"", "^", "Traceback")) or not _ERROR_LINE.search(text):
            continue
        if text not in out:
            out.append(text)
    return out[-keep:]


def _run_results(path: Path, since: float) -> list[dict[str, Any]]:
    """The node results of this run's run_results.json (none if dbt did not get to write it)."""
    try:
        if path.stat().st_mtime < since - 1:
            return []
        return list(json.loads(path.read_text(encoding="utf-8")).get("results") or [])
    except (OSError, ValueError):
        return []
