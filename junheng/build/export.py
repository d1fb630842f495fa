"""The marts as Parquet: one file per mart and ``_manifest.json``, into a folder being published.

The folder is part of a published version (junheng/build/publish.py), written before the version
becomes current, so a reader of ``<warehouse>/export/`` sees one whole build's files or the
previous build's, never a mix.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ExportedMart", "export_marts", "sql_literal"]


@dataclass
class ExportedMart:
    path: str
    rows: int


def sql_literal(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_marts(con: Any, catalog: str, marts: Mapping[str, int], folder: Path,
                 manifest: Mapping[str, Any]) -> dict[str, ExportedMart]:
    """``COPY`` every mart of `catalog` (attached to `con`) to ``folder/<mart>.parquet`` (zstd), then
    write ``folder/_manifest.json``: `manifest` plus the files and row counts. `marts`: name → rows."""
    folder.mkdir(parents=True, exist_ok=True)
    exports: dict[str, ExportedMart] = {}
    for mart, rows in marts.items():
        target = folder / f"{mart}.parquet"
        con.execute(f"copy (select * from {quoted(catalog)}.main.{quoted(mart)}) to {sql_literal(target)} "
                    "(format parquet, compression zstd)")
        exports[mart] = ExportedMart(str(target), int(rows))
    document = dict(manifest)
    document["marts"] = {k: {"file": Path(v.path).name, "rows": v.rows} for k, v in exports.items()}
    (folder / "_manifest.json").write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n",
                                           encoding="utf-8")
    return exports
