"""One command per warehouse at a time (junheng/warehouse_lock.py).

Two `junheng run`s started together on one warehouse used to both exit 0 and lose applied data
(issue #14, item 1): they read the same states, landed under the same file names and overwrote
each other's state files. Now the second waits (`--wait`) or is refused with one line and exit 2,
and the warehouse ends exactly as the two files run one after the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from junheng.warehouse_lock import LOCK_FILE, WarehouseBusy, WarehouseLock, WarehouseMissing, hold_warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A city cut in two files by district (so either may run first), and the warehouse of
    running them one after the other."""
    from ingestion.synthetic import generate_city
    from streams.embedded import EmbeddedRunner

    lines = generate_city(seed=11, schools=60).lines
    folder = tmp_path_factory.mktemp("halves")
    codes = sorted({json.loads(line)["district_code"] for line in lines})
    first_half = set(codes[: len(codes) // 2])
    one, two = folder / "half1.jsonl", folder / "half2.jsonl"
    one.write_bytes(b"".join(line + b"\n" for line in lines if json.loads(line)["district_code"] in first_half))
    two.write_bytes(b"".join(line + b"\n" for line in lines if json.loads(line)["district_code"] not in first_half))
    sequential = folder / "sequential"
    first = EmbeddedRunner(sequential).run([one])
    second = EmbeddedRunner(sequential).run([two])
    return {
        "one": one,
        "two": two,
        "lines": len(lines),
        "sequential": sequential,
        "applied": first.counts["applied"] + second.counts["applied"],
    }


def _junheng(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "junheng.cli", *args],
        cwd=PROJECT_ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def _landed(warehouse: Path) -> list[str]:
    rows = (
        duckdb.connect()
        .execute(f"select lower(event_id) from read_parquet('{warehouse}/landing/events/*.parquet')")
        .fetchall()
    )
    return sorted(r[0] for r in rows)


def _states(warehouse: Path) -> dict[str, Any]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted((warehouse / "state").glob("*.json"))}


def test_two_runs_started_together_wait_for_each_other_and_lose_nothing(halves: dict[str, Any], tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    runs = [
        _junheng(
            "run", str(halves[h]), "--warehouse", str(warehouse), "--json", "--no-build", "--no-gx", "--wait", "300"
        )
        for h in ("one", "two")
    ]
    outs = [r.communicate(timeout=600) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [o[1][-2000:] for o in outs]
    counts = [json.loads(o[0]) for o in outs]
    assert sum(c["read"] for c in counts) == halves["lines"]
    assert sum(c["applied"] for c in counts) == halves["applied"]
    ids = _landed(warehouse)
    assert len(ids) == len(set(ids)) == halves["applied"]  # every applied row, once
    assert ids == _landed(halves["sequential"])
    # in whichever order they ran, the districts end as the sequential run's (same facts, same versions)
    assert _states(warehouse) == _states(halves["sequential"])


def test_a_second_run_is_refused_while_the_first_holds_the_warehouse(halves: dict[str, Any], tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    lock = WarehouseLock.of(warehouse)
    with lock.hold():  # this test process plays the first run
        second = _junheng("run", str(halves["two"]), "--warehouse", str(warehouse), "--json", "--no-build", "--no-gx")
        out, err = second.communicate(timeout=300)
        assert second.returncode == 2, err
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "is busy" in lines[0] and f"process {os.getpid()}" in lines[0], err
        assert "--wait" in lines[0]
        assert not (warehouse / "landing" / "events").exists() or not _landed(warehouse)
        assert not (warehouse / "state").exists()


def test_a_waiting_run_goes_ahead_when_the_holder_is_killed(halves: dict[str, Any], tmp_path: Path) -> None:
    """The OS releases the lock of a SIGKILLed holder: nothing stale to delete by hand."""
    warehouse = tmp_path / "wh"
    code = (
        "import time\nfrom junheng.warehouse_lock import WarehouseLock\n"
        f"WarehouseLock.of({str(warehouse)!r}).acquire()\nprint('held', flush=True)\ntime.sleep(300)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = _junheng(
            "run", str(halves["one"]), "--warehouse", str(warehouse), "--json", "--no-build", "--no-gx", "--wait", "300"
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and waiting.poll() is None and not _waiting_on_lock(waiting.pid):
            time.sleep(0.05)
        assert waiting.poll() is None, waiting.communicate()
    finally:
        holder.kill()
        holder.wait()
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert json.loads(out)["read"] > 0


def _waiting_on_lock(pid: int) -> bool:
    """Whether process `pid` has the warehouse's lock file open (it is polling for the lock)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").endswith(LOCK_FILE) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_the_lock_is_reentrant_within_a_process_and_names_its_holder(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    with hold_warehouse(warehouse):
        with hold_warehouse(warehouse):  # junheng run holds it and calls build, which takes it again
            assert WarehouseLock.of(warehouse).held
        assert WarehouseLock.of(warehouse).held
        holder = WarehouseLock.of(warehouse).holder()
        assert holder is not None and holder["pid"] == os.getpid()
    assert not WarehouseLock.of(warehouse).held
    busy = WarehouseBusy(warehouse, {"pid": 42, "command": "junheng run", "since": "2026-12-04T10:00:00+0000"}, 0)
    assert str(busy).count("\n") == 0 and "process 42 (junheng run)" in str(busy)


def test_reading_commands_refuse_a_missing_warehouse(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(WarehouseMissing):
        with hold_warehouse(missing, create=False):
            pass
    assert not missing.exists()
    report = _junheng("report", "--warehouse", str(missing))
    out, err = report.communicate(timeout=120)
    assert report.returncode == 2 and len(err.strip().splitlines()) == 1 and "no warehouse at" in err
    assert not missing.exists()
