"""Reading report files as bureaus make them: CSV in any of the usual encodings, XLSX with title
rows above the header, merged header cells and several sheets.

- **Encoding** (CSV): UTF-8 (with or without BOM) when the bytes are UTF-8; otherwise what the
  maintained detector charset-normalizer finds (GBK and GB2312 read as their superset GB18030,
  what Excel on a Chinese Windows machine writes); ``encoding=`` forces one.
- **Header row**: not assumed to be the first. Within the first :data:`HEADER_SEARCH_ROWS` rows the
  header is the row naming the most known columns (columns.py), Chinese or English; title and note
  rows above it are skipped. Merged cells are filled with their top-left value first, so a header
  merged over two rows, or a group title above sub-headers, still names its columns.
- **Sheets**: every sheet of a workbook is read; its header tells whether it is a *sections* or a
  *roster* sheet. A sheet with neither header is skipped and said so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.reports.columns import ROSTER, ROSTER_REQUIRED, SECTIONS, SECTIONS_REQUIRED, lookup, normal
from junheng.errors import UserError

__all__ = ["HEADER_SEARCH_ROWS", "Problem", "ReportError", "Table", "decode", "read_tables"]

HEADER_SEARCH_ROWS = 30
_KINDS = (("sections", SECTIONS, SECTIONS_REQUIRED), ("roster", ROSTER, ROSTER_REQUIRED))


@dataclass(frozen=True)
class Problem:
    """One bad file, sheet or cell: where it is and what was expected."""

    file: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class ReportError(UserError, ValueError):
    """A report that cannot be loaded. ``problems`` lists every bad file or cell, one line each;
    ``str()`` is the first (and how many more)."""

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        self.problems = [str(p) for p in problems]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(self.problems[0] + more)


@dataclass
class Table:
    """The data rows of one sheet under its header: canonical column → cell value."""

    kind: str  # "sections" or "roster"
    file: str
    sheet: str | None
    header_row: int
    headers: dict[str, str]  # canonical column → the header as written (for messages)
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def decode(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError) as exc:
            raise ReportError([Problem(source, f"cannot be read as {encoding}: {exc}")]) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise ReportError([Problem(source, "cannot tell its encoding: pass --encoding (e.g. gb18030)")])
    name = best.encoding.lower().replace("-", "_")
    if name in ("gbk", "gb2312", "cp936", "hz"):
        name = "gb18030"  # what Excel writes as "GBK" may use characters only GB18030 names
    try:
        return data.decode(name), name
    except UnicodeDecodeError as exc:
        raise ReportError([Problem(source, f"looks like {name} but is not: {exc}; pass --encoding")]) from None


def _grid_csv(path: Path, encoding: str | None) -> list[tuple[str | None, list[list[Any]]]]:
    text, _ = decode(path.read_bytes(), str(path), encoding)
    return [(None, [row for row in csv.reader(io.StringIO(text, newline=""))])]


def _grid_xlsx(path: Path) -> list[tuple[str | None, list[list[Any]]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, data_only=True)  # not read-only: merged cells need the full model
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise ReportError(
            [Problem(str(path), f"is not a readable XLSX workbook ({type(exc).__name__}: {exc})")]
        ) from None
    sheets = []
    for ws in book.worksheets:
        grid = [list(row) for row in ws.iter_rows(values_only=True)]
        for merged in ws.merged_cells.ranges:  # every cell of a merged range gets its top-left value
            value = ws.cell(merged.min_row, merged.min_col).value
            for r in range(merged.min_row, merged.max_row + 1):
                for c in range(merged.min_col, merged.max_col + 1):
                    if r - 1 < len(grid):
                        row = grid[r - 1]
                        row.extend([None] * (c - len(row)))
                        row[c - 1] = value
        sheets.append((ws.title, grid))
    return sheets


def _find_header(grid: list[list[Any]]) -> tuple[int, str, dict[str, int]] | None:
    """(row index, kind, canonical column → column index) of the sheet's header row, or None."""
    best: tuple[int, int, str, dict[str, int]] | None = None
    for i, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        for kind, columns, required in _KINDS:
            names = lookup(columns)
            mapping: dict[str, int] = {}
            for j, cell in enumerate(row):
                canon = names.get(normal(cell))
                if canon and canon not in mapping:
                    mapping[canon] = j
            if all(c in mapping for c in required):
                score = len(mapping)
                if best is None or score > best[0]:
                    best = (score, i, kind, mapping)
    return None if best is None else (best[1], best[2], best[3])


def _nearly_a_header(grid: list[list[Any]]) -> str | None:
    """For a sheet without a header: which required columns the most promising row lacks."""
    found: tuple[int, str, list[str]] | None = None
    for row in grid[:HEADER_SEARCH_ROWS]:
        for kind, columns, required in _KINDS:
            names = lookup(columns)
            have = {names[normal(c)] for c in row if normal(c) in names}
            if have and (found is None or len(have) > found[0]):
                found = (len(have), kind, [c for c in required if c not in have])
    if found is None:
        return None
    _, kind, missing = found
    columns = SECTIONS if kind == "sections" else ROSTER
    return f"no header row: a {kind} sheet needs the column(s) " + "; ".join(
        f"{c} ({'/'.join(columns[c])})" for c in missing
    )


def read_tables(path: str | Path, encoding: str | None = None) -> tuple[list[Table], list[Problem]]:
    """Every sheet of the report with a header, and the problems found reading it (a file that
    cannot be read at all raises :class:`ReportError`)."""
    path = Path(path)
    if not path.is_file():
        raise ReportError([Problem(str(path), "no such file")])
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        grids = _grid_xlsx(path)
    elif suffix in (".csv", ".txt"):
        grids = _grid_csv(path, encoding)
    else:
        raise ReportError([Problem(str(path), f"unknown report format {suffix or '(none)'}: expected .csv or .xlsx")])
    tables: list[Table] = []
    problems: list[Problem] = []
    for sheet, grid in grids:
        found = _find_header(grid)
        if found is None:
            why = _nearly_a_header(grid)
            if why is not None:  # a sheet that looks like data: say why it was not read
                problems.append(Problem(str(path), why, sheet))
            continue
        at, kind, mapping = found
        header = grid[at]
        table = Table(kind, str(path), sheet, at + 1, {c: str(header[j]) for c, j in mapping.items()})
        for n, values in enumerate(grid[at + 1 :], start=at + 2):
            if any(v not in (None, "") and str(v).strip() != "" for v in values):
                table.rows.append((n, {c: values[j] if j < len(values) else None for c, j in mapping.items()}))
        tables.append(table)
    if not tables and not problems:
        problems.append(Problem(str(path), "no sheet with a header row of a sections or a roster report"))
    return tables, problems
