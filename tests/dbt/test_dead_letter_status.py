"""`stg_dead_letters.status` says what `junheng dlq` says (streams/dead_letters.py): open,
replayed, discarded; a Kafka replay the worker refused again (landed again from the position it
was produced to) is open; rows landed before dead letters had ids get the same ids in SQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from streams.dead_letters import read_dead_letters
from streams.landing import LandingWriter
from streams.processing import DeadLetter

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt_project"
DBT = shutil.which("dbt", path=str(Path(sys.executable).parent))


def _dbt(args: list[str], wh: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, JUNHENG_WAREHOUSE=str(wh), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [
        str(DBT),
        *args,
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(wh / "dbt-target"),
        "--log-path",
        str(wh / "dbt-logs"),
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_status_in_staging_is_the_status_junheng_dlq_shows(tmp_path: Path) -> None:
    def worker_dl(raw: bytes, offset: int) -> DeadLetter:
        return DeadLetter(
            raw, "unknown_district", "370299 is not a district", {"topic": "t.events", "partition": 1, "offset": offset}
        )

    stuck, fixed, untouched = worker_dl(b'{"n": 1}', 3), worker_dl(b'{"n": 2}', 4), worker_dl(b'{"n": 3}', 5)
    legacy = DeadLetter(b"garbage", "not_json", "not JSON", {"file": "a.jsonl", "line": 7})
    landing = tmp_path / "landing"
    worker = LandingWriter(landing, writer_id="worker-1")
    worker.write("dead_letters", [stuck.to_row(), fixed.to_row(), untouched.to_row()], batch=0)
    old = LandingWriter(landing, writer_id="embedded")  # landed by a version without ids
    old.schemas["dead_letters"] = old.schemas["dead_letters"].remove(0)
    old.write("dead_letters", [{k: v for k, v in legacy.to_row().items() if k != "dead_letter_id"}], batch=1)
    dlq = LandingWriter(landing, writer_id="dlq")
    dlq.write(
        "dead_letter_actions",
        [
            {"dead_letter_id": stuck.id, "action": "replayed", "outcome": "produced:t.events:1:90", "resolved": True},
            {"dead_letter_id": fixed.id, "action": "replayed", "outcome": "produced:t.events:1:91", "resolved": True},
            {"dead_letter_id": legacy.id, "action": "discarded", "outcome": None, "resolved": True, "note": "junk"},
        ],
        batch=2,
    )
    again = DeadLetter(stuck.raw, stuck.code, stuck.message, {"topic": "t.events", "partition": 1, "offset": 90})
    worker.write("dead_letters", [again.to_row()], batch=3)  # the worker refused the replayed one again

    expected = {stuck.id: "open", fixed.id: "replayed", untouched.id: "open", legacy.id: "discarded"}
    assert {d.id: d.status for d in read_dead_letters(tmp_path)} == expected
    done = _dbt(["build", "--select", "stg_dead_letters"], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(tmp_path / "junheng.duckdb"), read_only=True) as db:
        rows = db.execute(
            "select dead_letter_id, status, action_note from staging.stg_dead_letters "
            "where origin_offset is distinct from 90"
        ).fetchall()
    assert {r[0]: r[1] for r in rows} == expected
    assert dict((r[0], r[2]) for r in rows)[legacy.id] == "junk"


def test_a_warehouse_landed_before_dead_letter_ids_builds(tmp_path: Path) -> None:
    """No landed file has the dead_letter_id column (every dead letter was landed by a version
    without ids): staging still builds and computes the ids `junheng dlq` uses."""
    legacy = DeadLetter(b"garbage", "not_json", "not JSON", {"file": "a.jsonl", "line": 7})
    old = LandingWriter(tmp_path / "landing", writer_id="embedded")
    old.schemas["dead_letters"] = old.schemas["dead_letters"].remove(0)
    old.write("dead_letters", [{k: v for k, v in legacy.to_row().items() if k != "dead_letter_id"}], batch=0)
    done = _dbt(["build", "--select", "stg_dead_letters"], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(tmp_path / "junheng.duckdb"), read_only=True) as db:
        rows = db.execute("select dead_letter_id, status from staging.stg_dead_letters").fetchall()
    assert rows == [(legacy.id, "open")]
