"""The documented BI connection reads the marts and nothing else (issue #14, item 7).

Before: docs/marts.md told BI tools to connect with `read_only=True` only, and such a connection
still read any file the account could (`read_csv('/etc/passwd')`) and wrote anywhere (`COPY … TO`).
Every `duckdb.connect(…)` in the docs is now evaluated as written (its path swapped for a test
database) and must refuse external access and the setting that would turn it back on.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "marts.md", ROOT / "docs" / "data-quality.md"]


def documented_connects() -> list[tuple[str, str]]:
    """(where, the call's source) for every `duckdb.connect(...)` in a Python block of the docs."""
    found = []
    for doc in DOCS:
        for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for start in (m.start() for m in re.finditer(r"duckdb\.connect\(", block)):
                depth, end = 0, start
                for end in range(block.index("(", start), len(block)):
                    depth += {"(": 1, ")": -1}.get(block[end], 0)
                    if depth == 0:
                        break
                found.append((doc.name, block[start : end + 1]))
    return found


CONNECTS = documented_connects()


def test_the_docs_show_a_connection():
    assert {where for where, _ in CONNECTS} == {"marts.md", "data-quality.md"}


@pytest.mark.parametrize("where, call", CONNECTS, ids=[f"{w}:{i}" for i, (w, _) in enumerate(CONNECTS)])
def test_documented_connection_reads_marts_and_refuses_the_rest(tmp_path, where, call):
    database = tmp_path / "junheng.duckdb"
    setup = duckdb.connect(str(database))
    setup.execute("create table mart_city_progress as select 2025 as year, 0.5 as attained_share")
    setup.close()
    path = re.search(r'duckdb\.connect\("([^"]+)"', call)
    assert path, f"{where}: {call}"
    con = eval(call.replace(path.group(1), str(database)), {"duckdb": duckdb})  # noqa: S307 -- the docs' own code
    try:
        assert con.execute("select year, attained_share from mart_city_progress").fetchall() == [(2025, 0.5)]
        with pytest.raises(duckdb.Error):  # read-only: the marts stay as dbt built them
            con.execute("create table written as select 1")
        with pytest.raises(duckdb.PermissionException):
            con.execute("select * from read_csv('/etc/passwd')")
        target = tmp_path / "copied.csv"
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"copy (select * from mart_city_progress) to '{target}'")
        assert not target.exists()
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"attach '{tmp_path / 'other.duckdb'}' as other")
        with pytest.raises(duckdb.Error, match="lock"):  # and the settings cannot be undone
            con.execute("set enable_external_access = true")
        with pytest.raises(duckdb.PermissionException):
            con.execute("select * from read_csv('/etc/passwd')")
    finally:
        con.close()
