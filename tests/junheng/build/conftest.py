"""One small warehouse for the build tests, built once per session by `junheng.build.build`.

The run: `generate_city(seed=5, schools=80)` through the embedded driver into a temporary warehouse,
then `build()` — seeds check, `dbt build` into the working database, the marts checkpoint, the
publish (version 1) and its Parquet export — with deadlines judged on a fixed date. About 35 s, most
of it dbt. `built.database` is the published (read-only) file; the working database dbt wrote is
`<warehouse>/work/junheng.duckdb`.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    from ingestion.synthetic import generate_city
    from junheng.build import BuildError, build
    from streams.embedded import EmbeddedRunner

    wh = tmp_path_factory.mktemp("build-warehouse")
    events = wh / "events.jsonl"
    generate_city(seed=5, schools=80).write_jsonl(events)
    summary = EmbeddedRunner(wh).run([events])
    assert summary.counts["applied"] > 0
    try:
        return build(wh, as_of=AS_OF)
    except BuildError as exc:
        pytest.fail(f"build() failed at {exc.stage}:\n{exc}")


@pytest.fixture
def warehouse_copy(built, tmp_path):
    """A fresh warehouse folder holding a copy of the built DuckDB file (and an empty landing).
    A copy of the data, writable (the published file itself is read-only)."""
    def make(name: str = "copy") -> Path:
        wh = tmp_path / name
        (wh / "landing").mkdir(parents=True)
        shutil.copyfile(Path(built.database), wh / "junheng.duckdb")
        return wh
    return make


@pytest.fixture
def built_copy(built, tmp_path):
    """A copy of the built warehouse (events.jsonl, landing, state, working database, published
    version 1 and the links to it)."""
    def make(name: str = "copy") -> Path:
        wh = tmp_path / name
        shutil.copytree(built.warehouse, wh, symlinks=True)
        return wh
    return make


@pytest.fixture
def plant():
    """plant(database, *sql): change a copied warehouse the way a bug in the SQL would."""
    def run(database: Path, *statements: str) -> None:
        con = duckdb.connect(str(database))
        try:
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()
    return run
