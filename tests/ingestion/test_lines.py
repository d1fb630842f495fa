"""ingestion.lines: the one reader of JSONL input (producer, embedded driver, CLI)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ingestion.lines import check_inputs, count_lines, read_lines


def test_non_blank_lines_with_their_numbers_and_no_terminators(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"a": 1}\r\n\n   \n{"b": 2}\n{"c": 3}')
    lines = list(read_lines([path]))
    assert [(x.raw, x.number) for x in lines] == [(b'{"a": 1}', 1), (b'{"b": 2}', 4), (b'{"c": 3}', 5)]
    assert {x.file for x in lines} == {str(path)} and count_lines([path]) == 3


def test_a_fifo_is_read_once_and_not_counted(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert count_lines([fifo]) is None and count_lines(["-"]) is None

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(b"one\n\ntwo\n")

    writer = threading.Thread(target=write)
    writer.start()
    assert [x.raw for x in read_lines([fifo])] == [b"one", b"two"]
    writer.join(timeout=10)


def test_inputs_that_cannot_be_read_are_named_in_one_line(tmp_path: Path) -> None:
    assert check_inputs(["-", "-"]) == "standard input ('-') can be read only once: give '-' once"
    assert "No such file" in (check_inputs([str(tmp_path / "missing.jsonl")]) or "")
    assert check_inputs([str(tmp_path)]) == f"{tmp_path} is a folder: give the event files (JSONL) in it"
    assert check_inputs(["-"]) is None
