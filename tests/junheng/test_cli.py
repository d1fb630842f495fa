"""Commands that fail honestly (issue #12, item 6): a user error is one line on stderr naming what
and what to do, exit 2, before anything is applied or landed; a bug is one line and exit 70, its
traceback only with --debug; every option says what it does; `junheng --version`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from junheng import cli

ROOT = Path(__file__).resolve().parents[2]


def _junheng(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "junheng.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_version() -> None:
    out = _junheng("--version")
    assert out.returncode == 0 and out.stdout.startswith("junheng ") and out.stdout.split()[1][0].isdigit()


def test_every_option_of_every_command_says_what_it_does() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, command in sub.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction) or name in cli.PASS_THROUGH:
                continue
            if not action.help:
                missing.append(f"junheng {name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.parametrize(
    "args, says",
    [
        (["run", "{events}", "--warehouse", "{wh}", "--as-of", "2026-13-01"], "is not a date"),
        (["run", "{tmp}/missing.jsonl", "--warehouse", "{wh}"], "cannot read"),
        (["generate", "--out", "/nonexistent/x.jsonl"], "does not exist"),
        (["report", "--warehouse", "{wh}"], "no warehouse at"),
        (["build", "--warehouse", "{wh}"], "no landing folder"),
    ],
)
def test_a_user_error_is_one_line_and_exit_2_before_anything_is_done(
    tmp_path: Path, args: list[str], says: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"not": "an event"}\n', encoding="utf-8")
    wh = tmp_path / "wh"
    out = _junheng(*[a.format(events=events, wh=wh, tmp=tmp_path) for a in args])
    line = _one_line(out.stderr) if "usage:" not in out.stderr else out.stderr.strip().splitlines()[-1]
    assert out.returncode == 2 and says in line, out.stderr
    assert not wh.exists()  # nothing read, applied or landed


def test_report_on_a_warehouse_without_marts_says_to_build_it(tmp_path: Path) -> None:
    (tmp_path / "wh" / "landing").mkdir(parents=True)
    out = _junheng("report", "--warehouse", str(tmp_path / "wh"))
    assert out.returncode == 2 and "junheng build --warehouse" in _one_line(out.stderr)
    assert "dbt build" not in out.stderr


def test_an_unreadable_report_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "report.csv"
    bad.write_text("nothing,useful\n1,2\n", encoding="utf-8")
    out = _junheng("load-report", str(bad), "--state", str(tmp_path / "s.json"), "--out", str(tmp_path / "o.jsonl"))
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(lines) == 2
    assert "no sheet with a header row" in lines[0] and "nothing emitted" in lines[1]
    assert not (tmp_path / "o.jsonl").exists()


def test_a_bug_is_one_line_exit_70_and_its_traceback_only_with_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli, "cmd_generate", broken)
    assert cli.main(["generate", "--out", str(tmp_path / "x.jsonl")]) == 70
    line = _one_line(capsys.readouterr().err)
    assert "unexpected error: ZeroDivisionError: boom" in line and "--debug" in line
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "generate", "--out", str(tmp_path / "x.jsonl")])
