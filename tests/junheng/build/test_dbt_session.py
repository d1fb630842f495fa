"""dbt kept warm across builds (junheng/build/dbt_session.py), as `junheng serve` runs it.

The session's child is what a fresh dbt process is: builds through one warm child publish the
same marts as fresh processes, the working database is free once dbt is done (the build's later
stages write it), and a child that dies, is cancelled or grows too big is replaced at the next
command, never leaving a build that cannot run.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from pathlib import Path
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from publish_helpers import (
    alive,
    compare_marts,
    current_version,
    has_open,
    land_enrolment_correction,
    published_value,
    students_sql,
    wait_until,
)

AS_OF = dt.date(2026, 6, 30)  # the `built` fixture's
BUILD_TIMEOUT_S = 300


def _when_writing(child: int, working: Path, act: Callable[[], object]) -> threading.Thread:
    """A thread that does `act` once the session's dbt child has the working database open."""

    def run() -> None:
        wait_until(lambda: has_open(child, working), BUILD_TIMEOUT_S, "dbt to open the working database")
        act()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------ the protocol, without a warehouse


def test_commands_share_one_child_and_a_failing_command_does_not_end_it(tmp_path):
    from junheng.build.dbt_session import DbtSession

    with DbtSession() as session:
        lines: list[str] = []
        assert session.invoke(["--version"], dict(os.environ), tmp_path, lines.append) == 0
        assert any("Core" in line for line in lines), lines
        first = session.pid
        lines.clear()
        # a command dbt cannot run: exit 2 as `dbt` would, said in the output, the child goes on
        assert session.invoke(["no-such-command"], dict(os.environ), tmp_path, lines.append) == 2
        assert any("no-such-command" in line for line in lines), lines
        assert session.pid == first and session.started == 1 and session.commands == 2
    assert session.pid is None and not alive(first)


def test_a_child_over_its_memory_bound_is_replaced_after_the_command(tmp_path):
    from junheng.build.dbt_session import DbtSession

    with DbtSession(max_rss_mib=1) as session:  # any dbt is bigger than 1 MiB
        for _ in range(2):
            assert session.invoke(["--version"], dict(os.environ), tmp_path, lambda line: None) == 0
            assert session.pid is None
        assert session.started == 2 and session.recycled == 2


def test_a_child_killed_while_idle_is_replaced_at_the_next_command(tmp_path):
    from junheng.build.dbt_session import DbtSession

    with DbtSession() as session:
        session.start()
        first = session.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: not alive(first), 10, "the killed child to end")
        assert session.invoke(["--version"], dict(os.environ), tmp_path, lambda line: None) == 0
        assert session.pid not in (None, first) and session.started == 2


# ------------------------------------------------------------------ builds


@pytest.mark.slow
def test_builds_in_one_warm_child_publish_the_marts_fresh_processes_do(built_copy):
    from junheng.build import build
    from junheng.build.dbt_session import DbtSession

    warm, fresh = built_copy("warm"), built_copy("fresh")
    comparing = compare_marts()
    with DbtSession() as session:
        for skip in (0, 1):
            for wh in (warm, fresh):
                school, year, section, after = land_enrolment_correction(wh, skip)
            published = build(warm, as_of=AS_OF, dbt_session=session)
            fresh_published = build(fresh, as_of=AS_OF)
            assert published.published.version == fresh_published.published.version == 2 + skip
            assert published_value(warm, students_sql(school, year, section)) == after
            # dbt released the working database: this process can write it (the later stages did)
            duckdb.connect(str(warm / "work" / "junheng.duckdb")).close()
            assert comparing.compare(warm, fresh, rel_tol=1e-9) == []
        assert session.started == 1 and session.commands == 2


@pytest.mark.slow
def test_a_child_killed_mid_build_fails_that_build_only(built_copy):
    """The OOM killer (or anyone) ends the child while dbt writes: that build fails at dbt, in a
    few lines saying so, and publishes nothing; the next build starts a new child and publishes."""
    from junheng.build import BuildError, build
    from junheng.build.dbt_session import DbtSession

    wh = built_copy("killed")
    working = wh / "work" / "junheng.duckdb"
    school, year, section, after = land_enrolment_correction(wh, skip=0)
    with DbtSession() as session:
        session.start()
        child = session.pid
        assert child is not None

        killer = _when_writing(child, working, lambda: os.kill(child, signal.SIGKILL))
        with pytest.raises(BuildError) as failed:
            build(wh, as_of=AS_OF, dbt_session=session)
        killer.join(5)
        assert failed.value.stage == "dbt"
        assert "dbt's session process ended during the command (exit -9)" in str(failed.value)
        assert current_version(wh) == 1 and published_value(wh, students_sql(school, year, section)) == after - 40

        again = build(wh, as_of=AS_OF, dbt_session=session)
        assert again.published.version == 2 and published_value(wh, students_sql(school, year, section)) == after
        assert session.started == 2 and session.pid not in (None, child)


@pytest.mark.slow
def test_a_cancelled_build_stops_the_child_and_the_next_build_starts_another(built_copy):
    from junheng.build import BuildCancelled, build
    from junheng.build.dbt_session import DbtSession

    wh = built_copy("cancelled")
    working = wh / "work" / "junheng.duckdb"
    land_enrolment_correction(wh, skip=0)
    cancel = threading.Event()
    with DbtSession() as session:
        session.start()
        child = session.pid
        assert child is not None

        _when_writing(child, working, cancel.set)
        with pytest.raises(BuildCancelled):
            build(wh, as_of=AS_OF, dbt_session=session, cancel=cancel)
        wait_until(lambda: not alive(child), 10, "the cancelled child to end")
        assert current_version(wh) == 1
        assert build(wh, as_of=AS_OF, dbt_session=session).published.version == 2
        assert session.started == 2
