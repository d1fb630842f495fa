"""Compare the marts of two warehouses row for row: a refactor of the SQL must leave them equal.

    python tests/dbt/compare_marts.py WAREHOUSE_BEFORE WAREHOUSE_AFTER [--also intermediate.int_x ...]
                                      [--rel-tol 1e-12]

Every table `main.mart_*` of either warehouse's junheng.duckdb is compared as a multiset of rows
(all rows, all columns, order ignored), except the wall-clock columns of mart_alerts, which differ
between any two runs. Values are compared exactly, doubles too; with `--rel-tol T` a table that
differs is compared again row by row (both sides sorted) with its doubles equal to a relative T,
and reported as equal within T if it then is. (DuckDB sums doubles in parallel, in no fixed order:
two builds of the same data by the same code differ in the last bits of some sums, e.g.
mart_district_balance's means and CVs.)
`--also` adds other tables (e.g. intermediate.int_district_rule_verdicts, whose reasons the marts
do not all carry). Exit 0 when every table is equal (within T); else each difference is printed
(a few rows of each side) and the exit code is 1.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

#: columns that hold the time of the run, not a result (per table)
WALL_CLOCK: dict[str, tuple[str, ...]] = {
    "mart_alerts": ("starts_at", "ends_at", "changed_at", "run_id", "landed_batch"),
}


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = ? and table_schema = 'main' and table_name like 'mart_%'",
        [db],
    ).fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = ? "
        "and table_schema = ? and table_name = ? order by ordinal_position",
        [db, schema, table],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _differences(con: duckdb.DuckDBPyConnection, schema: str, table: str, cols: str) -> dict[str, list[tuple]]:
    return {
        x: con.execute(
            f"select {cols} from {x}.{schema}.{table} except all select {cols} from {y}.{schema}.{table}"
        ).fetchall()
        for x, y in (("a", "b"), ("b", "a"))
    }


def _equal_within(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, kept: list[tuple[str, str]], rel_tol: float
) -> bool:
    """Both sides sorted (doubles last), row by row: equal, doubles within rel_tol."""
    doubles = [i for i, (_, t) in enumerate(kept) if t == "DOUBLE"]
    order = [f'"{c}"' for c, t in kept if t != "DOUBLE"] + [f'"{kept[i][0]}"' for i in doubles]
    cols = ", ".join(f'"{c}"' for c, _ in kept)
    rows = [
        con.execute(f"select {cols} from {x}.{schema}.{table} order by {', '.join(order)}").fetchall()
        for x in ("a", "b")
    ]
    for ra, rb in zip(*rows):
        for i, (va, vb) in enumerate(zip(ra, rb)):
            if va == vb:
                continue
            if i not in doubles or va is None or vb is None or not math.isclose(va, vb, rel_tol=rel_tol, abs_tol=0.0):
                return False
    return len(rows[0]) == len(rows[1])


def compare(
    before: Path,
    after: Path,
    also: Sequence[str] = (),
    show: int = 5,
    rel_tol: float | None = None,
    notes: list[str] | None = None,
) -> list[str]:
    """The differences between two warehouses' marts (and the `also` tables), as text; [] if none.
    Tables equal only with their doubles within `rel_tol` are named in `notes`."""
    con = duckdb.connect()
    con.execute(f"attach '{_db(before)}' as a (read_only)")
    con.execute(f"attach '{_db(after)}' as b (read_only)")
    problems: list[str] = []
    names_a, names_b = _tables(con, "a"), _tables(con, "b")
    for missing in sorted(names_a ^ names_b):
        problems.append(f"main.{missing}: only in {'before' if missing in names_a else 'after'}")
    tables = [("main", t) for t in sorted(names_a & names_b)] + [tuple(t.split(".", 1)) for t in also]
    for schema, table in tables:
        cols_a, cols_b = _columns(con, "a", schema, table), _columns(con, "b", schema, table)
        if not cols_a or not cols_b:
            problems.append(f"{schema}.{table}: missing in {'before' if not cols_a else 'after'}")
            continue
        if cols_a != cols_b:
            problems.append(f"{schema}.{table}: columns differ: {cols_a} vs {cols_b}")
            continue
        kept = [(c, t) for c, t in cols_a if c not in WALL_CLOCK.get(table, ())]
        rows_a = con.execute(f"select count(*) from a.{schema}.{table}").fetchone()[0]  # type: ignore[index]
        rows_b = con.execute(f"select count(*) from b.{schema}.{table}").fetchone()[0]  # type: ignore[index]
        only = _differences(con, schema, table, ", ".join(f'"{c}"' for c, _ in kept))
        if rows_a == rows_b and (only["a"] or only["b"]) and rel_tol is not None:
            if _equal_within(con, schema, table, kept, rel_tol):
                if notes is not None:
                    notes.append(
                        f"{schema}.{table}: equal with doubles within a relative {rel_tol:g} "
                        f"({len(only['a'])} rows differ in the last bits of a double)"
                    )
                continue
        if rows_a != rows_b or only["a"] or only["b"]:
            text = [
                f"{schema}.{table}: {rows_a} rows before, {rows_b} after; "
                f"{len(only['a'])} only before, {len(only['b'])} only after"
            ]
            text += [f"  before: {r}" for r in only["a"][:show]]
            text += [f"  after:  {r}" for r in only["b"][:show]]
            problems.append("\n".join(text))
    return problems


def _db(warehouse: Path) -> Path:
    path = warehouse / "junheng.duckdb" if warehouse.is_dir() else warehouse
    if not path.is_file():
        raise SystemExit(f"compare_marts: no warehouse database at {path}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--also", action="append", default=[], metavar="SCHEMA.TABLE")
    parser.add_argument("--rel-tol", type=float, help="if not equal, compare doubles within this relative tolerance")
    args = parser.parse_args(argv)
    notes: list[str] = []
    problems = compare(args.before, args.after, args.also, rel_tol=args.rel_tol, notes=notes)
    for line in problems + notes:
        print(line)
    if not problems:
        print(f"marts equal: {args.before} and {args.after}" + (" (see above)" if notes else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
