"""`junheng whatif` (issue #13, item 4): hypothetical events judged on a copy of a warehouse's states;
it prints what would change and leaves every file of the warehouse as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import factories as f
import pytest

from streams.embedded import EmbeddedRunner

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-30"
NEW_SCHOOL = "3702020009"


def _junheng(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "junheng.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("whatif-cli")
    wh = root / "wh"
    events = f.good_district(2023, schools=4)
    assert EmbeddedRunner(wh).run([_jsonl(root / "events.jsonl", events)]).counts["applied"] == len(events)
    return wh


@pytest.fixture
def poor_school(tmp_path: Path) -> Path:
    sid = NEW_SCHOOL
    return _jsonl(
        tmp_path / "what-if.jsonl",
        [
            f.registered(sid, "primary"),
            f.enrolment(sid, {"primary": (900, 20)}),
            f.staff(sid, {"primary": f.staff_section(full_time=40, qualified=5, backbone=1, pe_arts=2)}),
            f.facilities(sid, school=f.facility(900.0, 1800.0, 900_000.0, 5)),
            f.finance(sid),
        ],
    )


def test_json_says_what_would_change_and_nothing_is_written(warehouse: Path, poor_school: Path) -> None:
    before = _tree(warehouse)
    out = _junheng("whatif", str(poor_school), "--warehouse", str(warehouse), "--as-of", AS_OF, "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["counts"] == {"read": 5, "applied": 5, "duplicate": 0, "stale": 0, "dead_lettered": 0}
    [section] = doc["changes"]["sections"]
    assert (section["school_id"], section["section"], section["passed"]) == (NEW_SCHOOL, "primary", [None, False])
    [district] = doc["changes"]["districts"]
    assert district["attained"] == [True, False] and district["failed_items"] == [[], ["RA-S"]]
    [city] = doc["changes"]["city"]
    assert city["before"]["districts_attained"] == 1 and city["after"]["districts_attained"] == 0
    assert _tree(warehouse) == before  # nothing landed, saved, published or locked


def test_the_text_names_each_change(warehouse: Path, poor_school: Path) -> None:
    before = _tree(warehouse)
    out = _junheng("whatif", str(poor_school), "--warehouse", str(warehouse), "--as-of", AS_OF)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "nothing was landed, saved or published" in text
    assert f"{f.DISTRICT} {NEW_SCHOOL} primary 2023: RA-S - → ✗" in text
    assert f"{f.DISTRICT} 2023: attained ✓ → ✗; failing - → RA-S" in text
    assert "Accountability (1):" in text and "DCY" in text
    assert "2023: attained 1/1 → 0/1" in text
    assert _tree(warehouse) == before


def test_a_rejected_event_is_listed_and_exits_1(warehouse: Path, tmp_path: Path) -> None:
    bad = _jsonl(
        tmp_path / "bad.jsonl", [f.staff("3702020001", {"primary": f.staff_section(full_time=10, qualified=50)}, seq=7)]
    )
    out = _junheng("whatif", str(bad), "--warehouse", str(warehouse))
    assert out.returncode == 1, out.stderr
    assert "rejected" in out.stdout and "impossible_value" in out.stdout and "Nothing would change." in out.stdout


@pytest.mark.parametrize(
    "case, says",
    [
        ("no-warehouse", "holds no district states and no landed events"),
        ("missing-file", "cannot read"),
        ("bad-date", "is not a date"),
    ],
)
def test_a_user_error_is_one_line_and_exit_2(
    warehouse: Path, poor_school: Path, tmp_path: Path, case: str, says: str
) -> None:
    args = {
        "no-warehouse": [str(poor_school), "--warehouse", str(tmp_path / "none")],
        "missing-file": [str(tmp_path / "missing.jsonl"), "--warehouse", str(warehouse)],
        "bad-date": [str(poor_school), "--warehouse", str(warehouse), "--as-of", "2026-13-01"],
    }[case]
    out = _junheng("whatif", *args)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and says in lines[0] and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "none").exists()
