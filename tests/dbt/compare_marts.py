"""Compare the marts of two warehouses row for row: a refactor of the SQL must leave them equal.

    python tests/dbt/compare_marts.py WAREHOUSE_BEFORE WAREHOUSE_AFTER [--also intermediate.int_x ...]

Every table `main.mart_*` of either warehouse's junheng.duckdb is compared as a multiset of rows
(all rows, all columns, order ignored, values exact: a float that moved in its last bit is a
difference), except the wall-clock columns of mart_alerts, which differ between any two runs.
`--also` adds other tables (e.g. intermediate.int_district_rule_verdicts, whose reasons the marts
do not all carry). Exit 0 when every table is equal; else each difference is printed (a few rows
of each side) and the exit code is 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import duckdb

#: columns that hold the time of the run, not a result (per table)
WALL_CLOCK: dict[str, tuple[str, ...]] = {
    "mart_alerts": ("starts_at", "ends_at", "changed_at", "run_id", "landed_batch"),
}


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables "
                       "where table_catalog = ? and table_schema = 'main' and table_name like 'mart_%'", [db]).fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> list[str]:
    rows = con.execute("select column_name from information_schema.columns where table_catalog = ? "
                       "and table_schema = ? and table_name = ? order by ordinal_position", [db, schema, table]).fetchall()
    return [r[0] for r in rows]


def compare(before: Path, after: Path, also: Sequence[str] = (), show: int = 5) -> list[str]:
    """The differences between two warehouses' marts (and the `also` tables), as text; [] if none."""
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
        cols = ", ".join(f'"{c}"' for c in cols_a if c not in WALL_CLOCK.get(table, ()))
        rows_a = con.execute(f"select count(*) from a.{schema}.{table}").fetchone()[0]  # type: ignore[index]
        rows_b = con.execute(f"select count(*) from b.{schema}.{table}").fetchone()[0]  # type: ignore[index]
        only = {}
        for x, y in (("a", "b"), ("b", "a")):
            only[x] = con.execute(f"select {cols} from {x}.{schema}.{table} except all "
                                  f"select {cols} from {y}.{schema}.{table}").fetchall()
        if rows_a != rows_b or only["a"] or only["b"]:
            text = [f"{schema}.{table}: {rows_a} rows before, {rows_b} after; "
                    f"{len(only['a'])} only before, {len(only['b'])} only after"]
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
    args = parser.parse_args(argv)
    problems = compare(args.before, args.after, args.also)
    for p in problems:
        print(p)
    if not problems:
        print(f"marts equal: {args.before} and {args.after}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
