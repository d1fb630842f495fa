"""The landing's watermark: which files a build has seen, so a builder knows when there is more.

    watermark(layout) -> {"events": {"worker-a": [12, 12], ...}, ...}   # table → writer → [last batch, files]

Landing files are only ever added, each under a new name (``part-<batch>-<writer>.parquet``, batch
numbers rising per writer, renamed into place complete), so the last batch and the number of files
per writer and table change exactly when files were landed. Only the stream's tables
(:data:`junheng.layout.LANDING_TABLES`) count: ``alert_events`` is written by the builds
themselves (their alert evaluation), and counting it would make every build that changed an
alert ask for one more build.
"""
from __future__ import annotations

import os
from typing import Any

from junheng.layout import LANDING_TABLES, LandingFile, WarehouseLayout

__all__ = ["Watermark", "files_beyond", "watermark"]

Watermark = dict[str, dict[str, list[int]]]


def watermark(layout: WarehouseLayout) -> Watermark:
    """The landing's files as they are now (temporaries, still being written, excluded)."""
    out: Watermark = {}
    for table in LANDING_TABLES:
        writers: dict[str, list[int]] = {}
        try:
            entries = list(os.scandir(layout.landing_table(table)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            part = LandingFile.parse(entry.name)
            if part is None:
                continue
            seen = writers.setdefault(part.writer, [part.batch, 0])
            seen[0] = max(seen[0], part.batch)
            seen[1] += 1
        if writers:
            out[table] = dict(sorted(writers.items()))
    return out


def files_beyond(now: Watermark, then: Any) -> int:
    """How many files `now` holds that the watermark `then` (as recorded, maybe None) did not."""
    then = then if isinstance(then, dict) else {}
    extra = 0
    for table, writers in now.items():
        before = then.get(table) or {}
        for writer, (_, files) in writers.items():
            old = before.get(writer) or [0, 0]
            extra += max(0, files - int(old[1]))
    return extra
