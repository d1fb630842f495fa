"""`junheng demo` prints the accounting and a per-district summary a person can read."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_embedded_and_prints_a_per_district_summary(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "junheng.cli",
            "demo",
            "--warehouse",
            str(tmp_path),
            "--schools",
            "150",
            "--as-of",
            "2026-06-01",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "160", "PATH": ""},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "balanced" in text and "NOT BALANCED" not in text
    for name in ("市南区", "崂山区", "平度市", "莱西市"):
        assert name in text
    assert "District attainment (judged as of 2026-06-01)" in text
    assert "The city against its plan (C1: 30% by 2023, 100% by 2025)" in text
    assert (tmp_path / "landing" / "events").is_dir()


def _demo(warehouse, *extra):
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "junheng.cli",
            "demo",
            "--warehouse",
            str(warehouse),
            "--schools",
            "30",
            "--no-gx",
            "--no-build",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_demo_resets_only_a_folder_it_made(tmp_path):
    """Issue #12: `junheng demo` pointed at a real warehouse wiped its landing (alert history
    included) and states without a prompt. Now it resets only a folder it created and marked."""
    real = tmp_path / "real"
    (real / "landing" / "events").mkdir(parents=True)
    kept = real / "landing" / "events" / "part-000000000000-w1.parquet"
    kept.write_bytes(b"PAR1 not really")
    out = _demo(real)
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "did not create" in out.stderr
    assert kept.read_bytes() == b"PAR1 not really" and not (real / "demo").exists()

    demo = tmp_path / "demo-wh"
    first = _demo(demo)
    assert first.returncode == 0, first.stderr[-2000:]
    landed = sorted(p.name for p in (demo / "landing").rglob("*.parquet"))
    (demo / "alerts").mkdir()
    (demo / "alerts" / "state.json").write_text("{}")  # left by an earlier build: reset with the rest
    again = _demo(demo)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not (demo / "alerts").exists() and (demo / "demo" / ".junheng-demo").is_file()
    # the same files as the first demo: its landing was reset, not added to (a second run of the
    # same events into the old landing would have landed nothing new and counted duplicates)
    assert sorted(p.name for p in (demo / "landing").rglob("*.parquet")) == landed
    assert "applied 0" not in again.stdout
