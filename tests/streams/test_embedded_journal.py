"""The embedded driver is all or nothing even when SIGKILLed: a run killed before its commit is
rolled back by the next runner, one killed amid its commit is rolled forward, and either way the
warehouse ends exactly as a run that was never killed (streams/embedded.py, the run journal)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from junheng.layout import WarehouseLayout
from junheng.warehouse_lock import WarehouseBusy
from streams.embedded import EmbeddedRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
from faults import EMBEDDED_KILL, subprocess_env  # noqa: E402

JOURNAL = WarehouseLayout(".").journal.name

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BATCH = 150


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The whole city, and the same lines cut in two files (head, tail)."""
    from ingestion.synthetic import generate_city

    lines = generate_city(seed=5, schools=30, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02).lines
    folder = tmp_path_factory.mktemp("journal-stream")
    whole, head, tail = folder / "all.jsonl", folder / "head.jsonl", folder / "tail.jsonl"
    cut = len(lines) * 2 // 3
    whole.write_bytes(b"".join(line + b"\n" for line in lines))
    head.write_bytes(b"".join(line + b"\n" for line in lines[:cut]))
    tail.write_bytes(b"".join(line + b"\n" for line in lines[cut:]))
    assert len(lines) > 6 * BATCH
    return whole, head, tail


def _states(warehouse: Path) -> dict[str, Any]:
    return {code: s.to_state() for code, s in EmbeddedRunner(warehouse, batch_size=BATCH).open().states.items()}


def _landed_ids(warehouse: Path) -> list[str]:
    rows = (
        duckdb.connect()
        .execute(f"select lower(event_id) from read_parquet('{warehouse}/landing/events/*.parquet')")
        .fetchall()
    )
    return sorted(r[0] for r in rows)


def _killed_run(warehouse: Path, path: Path, hook: str, **env: str) -> None:
    """`EmbeddedRunner(...).run([path])` in a child that SIGKILLs itself at `hook` (`env`: more
    environment for the child)."""
    code = (
        f"from streams.embedded import EmbeddedRunner\n"
        f"EmbeddedRunner({str(warehouse)!r}, batch_size={BATCH}).run([{str(path)!r}])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=subprocess_env({**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env}, **{EMBEDDED_KILL: hook}),
        timeout=300,
    )
    assert out.returncode == -signal.SIGKILL, out.stderr


@pytest.fixture(scope="module")
def clean(stream: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    whole, _, _ = stream
    warehouse = tmp_path_factory.mktemp("journal-clean")
    summary = EmbeddedRunner(warehouse, batch_size=BATCH).run([whole])
    assert summary.balanced() and summary.counts["applied"] > 500
    return {"counts": summary.as_dict(), "states": _states(warehouse), "ids": _landed_ids(warehouse)}


def test_a_run_killed_before_its_commit_is_rolled_back(stream, clean, tmp_path):
    whole, _, _ = stream
    warehouse = tmp_path / "wh"
    _killed_run(warehouse, whole, "batch:3")
    journal = json.loads((warehouse / "state" / JOURNAL).read_text())
    assert journal["phase"] == "running"
    assert len(list((warehouse / "landing" / "events").glob("*.parquet"))) == 3  # visible, uncommitted
    assert not list((warehouse / "state").glob("*.json"))  # no state was saved

    runner = EmbeddedRunner(warehouse, batch_size=BATCH).open()
    assert runner.recovered and runner.recovered.startswith("rolled back")
    assert not list((warehouse / "landing").glob("*/*.parquet")) and not (warehouse / "state" / JOURNAL).exists()
    summary = runner.run([whole])
    assert summary.as_dict() | {"elapsed_s": 0, "landing": ""} == clean["counts"] | {"elapsed_s": 0, "landing": ""}
    assert _landed_ids(warehouse) == clean["ids"]  # each applied event landed once
    assert _states(warehouse) == clean["states"]


def test_a_run_killed_after_spilling_changed_states_is_rolled_back(stream, clean, tmp_path):
    """A run holding one state at a time writes the others it changed to their staged files
    (streams/file_states.py) long before its commit; killed then, it is rolled back like any
    other: the committed state files unchanged, byte for byte, and no staged file left."""
    whole, head, tail = stream
    warehouse = tmp_path / "wh"
    state = warehouse / "state"
    assert EmbeddedRunner(warehouse, batch_size=BATCH).run([head]).balanced()
    committed = {p.name: p.read_bytes() for p in state.iterdir()}
    assert len([n for n in committed if n.endswith(".json")]) > 2
    # bounded to one state, each batch is landed in runs of one district (streams/district_runs.py)
    _killed_run(warehouse, tail, "batch:4", JUNHENG_MAX_LOADED_DISTRICTS="1")
    assert json.loads((state / JOURNAL).read_text())["phase"] == "running"
    spilled = sorted(p.name for p in state.glob("*.json.tmp"))
    assert spilled  # the earlier runs' changed states beyond the one kept, staged early
    assert {p.name: p.read_bytes() for p in state.iterdir() if p.name != JOURNAL} == committed | {
        name: (state / name).read_bytes() for name in spilled
    }  # the committed files untouched so far

    runner = EmbeddedRunner(warehouse, batch_size=BATCH, max_loaded=1).open()
    assert runner.recovered and runner.recovered.startswith("rolled back")
    assert {p.name: p.read_bytes() for p in state.iterdir()} == committed  # no staged file, no journal
    assert runner.run([tail]).balanced() and runner.store.spills > 0  # bounded again, and committed
    assert not list(state.glob("*.json.tmp"))
    assert _states(warehouse) == clean["states"] and _landed_ids(warehouse) == clean["ids"]


def test_a_run_killed_amid_its_commit_is_rolled_forward(stream, clean, tmp_path):
    whole, head, tail = stream
    warehouse = tmp_path / "wh"
    first = EmbeddedRunner(warehouse, batch_size=BATCH).run([head])
    assert first.balanced()
    _killed_run(warehouse, tail, "commit:2")  # two state files renamed, the others staged
    journal = json.loads((warehouse / "state" / JOURNAL).read_text())
    assert journal["phase"] == "committing" and len(journal["renames"]) > 2
    assert len(list((warehouse / "state").glob("*.json.tmp"))) == len(journal["renames"]) - 2

    runner = EmbeddedRunner(warehouse, batch_size=BATCH).open()
    assert runner.recovered and runner.recovered.startswith("rolled forward")
    assert not list((warehouse / "state").glob("*.json.tmp")) and not (warehouse / "state" / JOURNAL).exists()
    assert _states(warehouse) == clean["states"]  # head then tail == the whole stream
    assert _landed_ids(warehouse) == clean["ids"]
    again = runner.run([tail])  # the killed run did count: all repeats now
    assert again.counts["applied"] == 0 and again.balanced()


def _hold_lock(warehouse: Path) -> subprocess.Popen[str]:
    """A child process that takes the warehouse's lock and keeps it until killed."""
    code = (
        "import sys, time\nfrom junheng.warehouse_lock import WarehouseLock\n"
        f"WarehouseLock.of({str(warehouse)!r}).acquire()\nprint('held', flush=True)\ntime.sleep(120)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_live_run_is_not_rolled_back(stream, tmp_path):
    """A journal whose run is alive (it holds the warehouse's lock) is left alone: the second
    runner is refused before it reads or changes anything, naming the holder."""
    whole, _, _ = stream
    warehouse = tmp_path / "wh"
    state = warehouse / "state"
    state.mkdir(parents=True)
    journal = json.dumps({"phase": "running", "first_batch": 0, "pid": 1, "renames": []})
    (state / JOURNAL).write_text(journal)
    live = _hold_lock(warehouse)
    try:
        with pytest.raises(WarehouseBusy, match=f"process {live.pid}"):
            EmbeddedRunner(warehouse, batch_size=BATCH).run([whole])
        assert (state / JOURNAL).read_text() == journal
        assert not (warehouse / "landing" / "events").exists() or not list(
            (warehouse / "landing" / "events").glob("*.parquet")
        )
    finally:
        live.kill()
        live.wait()
    # the OS released the killed holder's lock: the next run goes ahead (and rolls the journal back)
    runner = EmbeddedRunner(warehouse, batch_size=BATCH)
    assert runner.run([whole]).balanced()
    assert runner.recovered and runner.recovered.startswith("rolled back")
