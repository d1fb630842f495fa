"""Event files as lines: the one reader of JSONL input for every path (producer, embedded driver, CLI).

A record is every non-blank line of a file, without its line terminator, with its file and line
number as origin. ``-`` is standard input. Each input is opened once and read once, front to
back, so a pipe, ``/dev/stdin``, a process substitution or a named FIFO works like a file (they
can be read only once: counting their lines first left the run nothing, or waiting for a writer
that had gone).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["STDIN", "Line", "check_inputs", "count_lines", "read_lines"]

#: The input name that means standard input (as for cat, jq and most Unix tools).
STDIN = "-"
STDIN_ORIGIN = "<stdin>"


@dataclass(frozen=True, slots=True)
class Line:
    raw: bytes  # the line's bytes without \r\n
    file: str  # the path as given, or <stdin>
    number: int  # 1-based, counting blank lines too (as an editor shows it)


def read_lines(paths: Iterable[str | Path]) -> Iterator[Line]:
    """Every non-blank line of every input, in order."""
    for path in paths:
        if str(path) == STDIN:
            yield from _lines(sys.stdin.buffer, STDIN_ORIGIN)
        else:
            with open(path, "rb") as fh:
                yield from _lines(fh, str(path))


def _lines(fh: BinaryIO, origin: str) -> Iterator[Line]:
    for number, line in enumerate(fh, start=1):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            yield Line(raw, origin, number)


def count_lines(paths: Sequence[str | Path]) -> int | None:
    """How many lines :func:`read_lines` will give, if every input is a regular file; None when one
    is not (a pipe, ``-``, a FIFO: reading it to count would consume it)."""
    if not all(str(p) != STDIN and stat.S_ISREG(os.stat(p).st_mode) for p in paths):
        return None
    total = 0
    for p in paths:
        with open(p, "rb") as fh:
            total += sum(1 for line in fh if line.strip())
    return total


def check_inputs(paths: Sequence[str | Path]) -> str | None:
    """Why the inputs cannot be read (one line for the user), or None when they can; checked
    before anything runs, so a typo is a clear error rather than a traceback (or a rolled-back run)."""
    if sum(1 for p in paths if str(p) == STDIN) > 1:
        return "standard input ('-') can be read only once: give '-' once"
    for p in paths:
        if str(p) == STDIN:
            continue
        try:
            mode = os.stat(p).st_mode
        except OSError as exc:
            return f"cannot read {p}: {exc.strerror or exc}"
        if stat.S_ISDIR(mode):
            return f"{p} is a folder: give the event files (JSONL) in it"
        if not os.access(p, os.R_OK):
            return f"cannot read {p}: permission denied"
    return None
