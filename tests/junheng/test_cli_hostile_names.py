"""District names reach the terminal inert (issue #14, item 6).

Before: `junheng run` printed its district table with rich markup, so a district named `[/]`
raised rich's MarkupError after the run had committed (exit 1, traceback, no build, alerts or
report), and a name holding ESC/OSC/BEL sequences went to the terminal as it was. Now every name is
shown through junheng.terminal: control characters as visible escapes, markup as written.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from junheng.terminal import markup, plain

ROOT = Path(__file__).resolve().parents[2]
JUNHENG = shutil.which("junheng", path=str(Path(sys.executable).parent))
#: code -> a hostile name: rich markup, an OSC title change ended by BEL, a screen clear, an 8-bit
#: CSI and a right-to-left override
HOSTILE = {
    "370202": "[/]",
    "370203": "\x1b]0;owned\x07北区",
    "370211": "[bold red]黄岛\x1b[2J",
    "370212": "崂山\x9b31m\u202e区",
}
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def hostile_districts(folder: Path) -> Path:
    """The packaged district list with four names replaced by HOSTILE (JUNHENG_DISTRICTS)."""
    from ingestion.reference import districts_csv

    with open(districts_csv(), encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert HOSTILE.keys() <= {r["district_code"] for r in rows}
    for r in rows:
        r["name_zh"] = HOSTILE.get(r["district_code"], r["name_zh"])
    path = folder / "districts.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_plain_and_markup_make_names_inert():
    assert plain("\x1b]0;owned\x07北区") == "\\x1b]0;owned\\x07北区"
    assert plain("a\nb\tc\x7f\x9b\u202ed") == "a\\x0ab\\x09c\\x7f\\x9b\\u202ed"
    assert plain(None) == "" and plain("市南区") == "市南区"
    assert plain("failed:\n  \x1b[2J北区", lines=True) == "failed:\n  \\x1b[2J北区"
    from rich.console import Console

    console = Console(width=200, record=True, force_terminal=False)
    console.print(f"[bold]district[/bold] {markup('[/] [red]x[/red] ' + chr(27) + '[2J')}")
    assert console.export_text().rstrip("\n") == "district [/] [red]x[/red] \\x1b[2J"


@pytest.mark.parametrize("json_mode", [False, True], ids=["default", "json"])
def test_run_prints_hostile_district_names_inert(tmp_path, json_mode):
    assert JUNHENG, "the junheng CLI is installed in the venv (scripts/bootstrap.sh)"
    from ingestion.synthetic import generate_city

    events = tmp_path / "events.jsonl"
    generate_city(seed=3, schools=30).write_jsonl(events)
    env = dict(os.environ, JUNHENG_DISTRICTS=str(hostile_districts(tmp_path)), COLUMNS="200")
    out = subprocess.run(
        [
            JUNHENG,
            "run",
            str(events),
            "--warehouse",
            str(tmp_path / "wh"),
            "--no-build",
            "--no-gx",
            "--as-of",
            "2026-06-30",
        ]
        + (["--json"] if json_mode else []),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    for ch in CONTROLS:
        assert ch not in out.stdout and ch not in out.stderr, f"{ch!r} reached the terminal"
    if not json_mode:
        for code, name in HOSTILE.items():
            assert f"{code} {plain(name)}" in out.stdout
        assert "370202 [/]" in out.stdout and "[bold red]黄岛\\x1b[2J" in out.stdout
