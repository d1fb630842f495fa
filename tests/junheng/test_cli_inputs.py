"""`junheng run` reads piped input once and counts it, in every output mode (issue #14, item 3).

Before: the progress bar counted the lines of every input by reading it before the run read it
again, so a pipe (`-` was not even accepted, `/dev/stdin`, `<(…)`) was read empty by the run —
"read 0 … balanced", exit 0 — and a named FIFO hung (its writer had gone when the run reopened
it). Now only regular files are counted first; `-` is standard input; a missing input is refused
with one line on stderr.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUNHENG = shutil.which("junheng", path=str(Path(sys.executable).parent))
TIMEOUT_S = 180  # a hung run (the FIFO before the fix) fails the test instead of blocking it


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> tuple[Path, int]:
    """A generated city (`junheng generate`, 30 schools) and its number of non-blank lines."""
    assert JUNHENG, "the junheng CLI is installed in the venv (scripts/bootstrap.sh)"
    path = tmp_path_factory.mktemp("inputs") / "base.jsonl"
    subprocess.run(
        [JUNHENG, "generate", "--out", str(path), "--schools", "30"], check=True, capture_output=True, timeout=TIMEOUT_S
    )
    lines = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    assert lines > 1000
    return path, lines


def _run(args: list[str], warehouse: Path, *, json_mode: bool, gx: bool = False, **kw) -> dict:
    """Run `junheng run ARGS --warehouse W --no-build` and return the counts it printed."""
    cmd = (
        [*args, "--warehouse", str(warehouse), "--no-build"]
        + ([] if gx else ["--no-gx"])
        + (["--json"] if json_mode else [])
    )
    out = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, env=dict(os.environ, COLUMNS="200"), **kw
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    if json_mode:
        counts = json.loads(out.stdout.strip().splitlines()[-1])
        return {
            "read": counts["read"],
            "balanced": counts["read"]
            == counts["applied"] + counts["duplicate"] + counts["stale"] + counts["dead_lettered"],
        }
    found = re.search(r"Events: read ([\d,]+) = .*?\((balanced|NOT BALANCED)", out.stdout, re.S)
    assert found, out.stdout[-2000:]
    return {"read": int(found.group(1).replace(",", "")), "balanced": found.group(2) == "balanced"}


@pytest.mark.parametrize("json_mode", [False, True], ids=["default", "json"])
@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_standard_input_is_read_once(events, tmp_path, name, json_mode):
    path, lines = events
    with open(path, "rb") as stdin:  # through a real pipe, as `cat base.jsonl | junheng run - …`
        cat = subprocess.Popen(["cat"], stdin=stdin, stdout=subprocess.PIPE)
        try:
            counts = _run(
                [JUNHENG, "run", name],
                tmp_path / "wh",
                json_mode=json_mode,
                gx=(name == "-" and not json_mode),
                stdin=cat.stdout,
            )
        finally:
            assert cat.stdout is not None
            cat.stdout.close()
            cat.wait(timeout=TIMEOUT_S)
    assert counts == {"read": lines, "balanced": True}


@pytest.mark.parametrize("json_mode", [False, True], ids=["default", "json"])
def test_a_named_fifo_is_read_once(events, tmp_path, json_mode):
    path, lines = events
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as out:  # blocks until the run opens the FIFO for reading
            out.write(path.read_bytes())

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        counts = _run([JUNHENG, "run", str(fifo)], tmp_path / "wh", json_mode=json_mode)
    finally:
        if thread.is_alive():  # the run never opened it: let the writer go
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            thread.join(timeout=10)
            os.close(fd)
    assert counts == {"read": lines, "balanced": True}


def test_process_substitution_is_read_once(events, tmp_path):
    path, lines = events
    bash = shutil.which("bash")
    assert bash
    script = 'exec "$1" run <(cat "$2") --warehouse "$3" --no-build --no-gx'
    out = subprocess.run(
        [bash, "-c", script, "bash", JUNHENG, str(path), str(tmp_path / "wh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"Events: read {lines:,} = " in out.stdout and "(balanced" in out.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (["missing.jsonl"], "cannot read missing.jsonl: No such file or directory"),
        (["."], ". is a folder"),
        (["-", "-"], "standard input ('-') can be read only once"),
    ],
)
def test_unreadable_inputs_are_refused_in_one_line(tmp_path, args, says):
    out = subprocess.run(
        [JUNHENG, "run", *args, "--warehouse", str(tmp_path / "wh"), "--no-build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert out.stderr.startswith(f"junheng run: {says}") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "wh").exists()
