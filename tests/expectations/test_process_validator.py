"""ProcessValidator: the suites in a child process give the in-process verdicts, survive the child
dying, and leave no child behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from gx_builders import enrolment, mixed_batch, staff, staff_section, statistics

from expectations.process_validator import ProcessValidator, ValidatorUnavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def child():
    with ProcessValidator() as v:
        yield v


def batch_with_failures() -> list[dict]:
    events = mixed_batch(120, seed=11)
    events[3] = enrolment(primary=(9000, 100))  # students above the bound
    events[40] = staff(primary=staff_section(10, qualified_teachers=11))  # more qualified than teachers
    events[77] = statistics(satisfaction_pct=130)  # a percentage over 100
    return events


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_same_verdicts_as_in_process(child, validator):
    events = batch_with_failures()
    expected = validator.validate(events)
    assert sum(r is not None for r in expected) == 3  # the three planted rows, nothing else
    assert child.validate(events) == expected
    assert child.validate([]) == []


def test_async_call_gives_the_same_verdicts(child, validator):
    import asyncio

    events = batch_with_failures()
    assert asyncio.run(child.validate_async(events)) == validator.validate(events)


def test_a_killed_child_is_replaced_and_the_batch_answered(validator):
    events = batch_with_failures()
    with ProcessValidator() as v:
        first = v.pid
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)
        assert v.validate(events) == validator.validate(events)
        assert v.restarts == 1 and v.pid != first
        assert not _alive(first)


def test_closed_validator_refuses_and_its_child_is_gone():
    v = ProcessValidator()
    pid = v.pid
    v.close()
    assert not _alive(pid)
    with pytest.raises(ValidatorUnavailable):
        v.validate(mixed_batch(3))


def test_a_broken_suite_fails_at_start_as_in_process(tmp_path):
    from expectations import BatchValidator

    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(Exception) as in_process:
        BatchValidator(tmp_path)
    with pytest.raises(type(in_process.value)) as in_child:
        ProcessValidator(tmp_path)
    assert str(in_child.value) == str(in_process.value)


def test_the_child_exits_when_its_parent_is_killed():
    """A SIGKILLed worker must not leave its GX child running (the fault suite kills workers)."""
    script = textwrap.dedent("""
        import os, signal, sys
        from expectations.process_validator import ProcessValidator
        v = ProcessValidator()
        print(v.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout=120,
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_raw_messages_get_the_verdicts_of_their_events(child, validator):
    """The worker sends the checked messages' bytes; the child decodes them as the worker did."""
    import json

    from ingestion.contract import check_event

    raws = [json.dumps(e, ensure_ascii=False).encode() for e in batch_with_failures()]
    events = [check_event(r).event for r in raws if check_event(r).ok]
    assert len(events) >= 118
    expected = validator.validate(events)
    assert any(expected)
    assert child.validate_raw([r for r in raws if check_event(r).ok]) == expected


def test_usage_reports_the_childs_own_cpu_and_peak_memory(child):
    """What the worker reports beside its own figures (read from /proc by junheng.metrics)."""
    usage = child.usage()
    assert usage["pid"] == child.pid and usage["restarts"] >= 0
    assert usage["cpu_s"] is not None and usage["cpu_s"] > 0
    assert usage["peak_rss_mib"] is not None and usage["peak_rss_mib"] > 50  # GX alone is more than that
