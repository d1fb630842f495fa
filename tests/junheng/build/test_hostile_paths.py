"""A warehouse path with SQL quotes, glob characters and braces builds the same marts (issue #14, item 7).

Before: a `'` in the path ended dbt's string literals (`glob('…')`, the sources' `read_parquet('…')`:
"unterminated string literal"), a `[` made the glob match nothing (empty staging, no error), and the
alert evaluator's stream source failed on the same quote yet was reported "ok"; a `?` or `#` made
dbt-duckdb open a database of another name. Now the path is quoted and its glob characters escaped
wherever it reaches SQL (dbt_project/macros/landing.sql, the sources' external_location,
junheng/alerting/sources.py), and a path with `?` or `#` is refused before dbt starts.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

AS_OF = dt.date(2026, 6, 30)   # the `built` fixture's (tests/junheng/build/conftest.py)

HOSTILE = "o'brien [2024] {x} *"


def _manifest(warehouse: Path) -> dict:
    return json.loads((warehouse / "export" / "_manifest.json").read_text(encoding="utf-8"))["marts"]


def test_a_hostile_warehouse_path_builds_the_same_marts(built, tmp_path):
    from ingestion.synthetic import generate_city
    from junheng.build import build
    from junheng.alerting import AlertConfig
    from junheng.alerting.run import evaluate_and_send
    from streams.embedded import EmbeddedRunner

    wh = tmp_path / HOSTILE
    events = tmp_path / "events.jsonl"
    generate_city(seed=5, schools=80).write_jsonl(events)   # the city of the `built` fixture
    EmbeddedRunner(wh).run([events])
    result = build(wh, as_of=AS_OF, data_docs=False)

    reference = Path(built.warehouse)
    assert {m: v["rows"] for m, v in _manifest(wh).items()} == \
        {m: v["rows"] for m, v in _manifest(reference).items()}
    query = "select * from main.mart_district_attainment order by all"
    rows = []
    for database in (result.database, built.database):
        con = duckdb.connect(database, read_only=True)
        try:
            rows.append(con.execute(query).fetchall())
        finally:
            con.close()
    assert rows[0] and rows[0] == rows[1]

    run = evaluate_and_send(wh, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False,
                            config=AlertConfig(marts=False))
    stream = run.sources["stream"]
    assert stream.ok and stream.rows > 0, stream.detail
    assert not run.errors


@pytest.mark.parametrize("mark", ["?", "#"])
def test_a_warehouse_path_dbt_duckdb_would_misread_is_refused_clearly(tmp_path, mark):
    """dbt-duckdb parses its path as a URL: `a?b/junheng.duckdb` opens a catalog named `a`, and SQL
    with that name unquoted fails. Refused before dbt starts, naming the character."""
    from junheng.build import BuildError, build

    wh = tmp_path / f"wh{mark}1"
    (wh / "landing").mkdir(parents=True)
    with pytest.raises(BuildError) as caught:
        build(wh, as_of=AS_OF)
    assert caught.value.stage == "dbt" and repr(mark) in str(caught.value) and "URL" in str(caught.value)
    assert not (wh / "junheng.duckdb").exists()
