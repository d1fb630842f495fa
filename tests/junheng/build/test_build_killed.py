"""A `junheng build` killed with SIGKILL takes its dbt child with it (issue #14, item 7).

Before: dbt ran on as an orphan, holding the (working) database's write lock, so the next build
failed with "Could not set lock on file" until that orphan finished. Now the dbt child is
started with a parent-death signal (junheng.build.dies_with_parent): the test kills a real build
while its dbt has the database open, and asserts dbt is gone within seconds and the file opens for
writing.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[3]
#: dbt needs ~15 s for the whole project on this small city; the parent-death signal acts at once.
GONE_WITHIN_S = 5.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Running (a zombie is dead: it holds no file and no lock)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_sigkilled_build_leaves_no_dbt_holding_the_database(tmp_path):
    from ingestion.synthetic import generate_city
    from streams.embedded import EmbeddedRunner

    wh = tmp_path / "wh"
    events = tmp_path / "events.jsonl"
    generate_city(seed=5, schools=30).write_jsonl(events)
    assert EmbeddedRunner(wh).run([events]).counts["applied"] > 0
    database = wh / "work" / "junheng.duckdb"   # the working database dbt writes
    junheng = shutil.which("junheng", path=str(Path(sys.executable).parent))
    assert junheng, "the junheng CLI is installed in the venv (scripts/bootstrap.sh)"

    build = subprocess.Popen([junheng, "build", "--warehouse", str(wh), "--as-of", "2026-06-30", "--quiet"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dbt_pid = None
    try:
        def dbt_holding_the_file() -> int | None:
            assert build.poll() is None, f"the build ended ({build.returncode}) before dbt opened {database}"
            return next((p for p in _children(build.pid) if _has_open(p, database)), None)

        dbt_pid = _wait(dbt_holding_the_file, 120, f"the build's dbt child to open {database}")
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=10)

        _wait(lambda: not _alive(dbt_pid), GONE_WITHIN_S, f"dbt (pid {dbt_pid}) to die with its killed parent")
        con = duckdb.connect(str(database))        # read-write: no other process holds the lock
        try:
            con.execute("create table written_after_the_kill as select 1 as x")
            assert con.execute("select x from written_after_the_kill").fetchall() == [(1,)]
        finally:
            con.close()
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        if dbt_pid is not None and _alive(dbt_pid):   # the orphan of an unfixed build: ours, end it
            os.kill(dbt_pid, signal.SIGKILL)
