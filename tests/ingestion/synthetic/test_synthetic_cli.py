"""``python -m ingestion.synthetic`` writes the stream and prints the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.synthetic import generate_city
from ingestion.synthetic.__main__ import main

ROOT = Path(__file__).resolve().parents[3]


def test_main_writes_the_same_bytes_as_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "events.jsonl"
    assert (
        main(["--seed", "9", "--schools", "200", "--out", str(out), "--bad-fraction", "0.01", "--years", "2021-2023"])
        == 0
    )
    manifest = json.loads(capsys.readouterr().out)
    city = generate_city(seed=9, schools=200, bad_fraction=0.01, years=range(2021, 2024))
    assert out.read_bytes() == b"".join(line + b"\n" for line in city.lines)
    manifest.pop("seconds")
    assert manifest == city.manifest


def test_module_runs_as_a_program(tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion.synthetic", "--schools", "50", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    manifest = json.loads(proc.stdout)
    assert manifest["schools"] == 50
    assert manifest["lines"] == len(out.read_bytes().splitlines())
