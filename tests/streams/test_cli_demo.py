"""`junheng demo` prints the accounting and a per-district summary a person can read."""
from __future__ import annotations

import subprocess
import sys


def test_demo_runs_embedded_and_prints_a_per_district_summary(tmp_path):
    out = subprocess.run([sys.executable, "-m", "junheng.cli", "demo", "--warehouse", str(tmp_path),
                          "--schools", "150", "--as-of", "2026-06-01"],
                         capture_output=True, text=True, timeout=600, env={"COLUMNS": "160", "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "balanced" in text and "NOT BALANCED" not in text
    for name in ("市南区", "崂山区", "平度市", "莱西市"):
        assert name in text
    assert "District attainment (judged as of 2026-06-01)" in text
    assert "The city against its plan (C1: 30% by 2023, 100% by 2025)" in text
    assert (tmp_path / "landing" / "events").is_dir()
