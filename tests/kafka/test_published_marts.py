"""Always-fresh marts on Kafka (issue #11): the worker lands, `junheng serve` builds and publishes,
readers read -- and nobody runs `junheng build`.

One pipeline per module (worker and builder as subprocesses, a 60-school city produced once and
published as the first version), then:

- readers -- a read-only DuckDB connection and a SQLAlchemy (duckdb-engine) one, each in its own
  process as a dashboard's -- stay open on <warehouse>/junheng.duckdb while corrections are produced
  and builds run: no build fails, the readers see the old marts until they reconnect, then the new;
- a veto raised by a correction reaches the published marts, mart_alerts, the alert book and the
  report by itself.

Needs the local broker (infra/kafka/kafka.sh start); waits on conditions, never on sleeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pipeline_helpers import WorkerProcess, delete_topics, kafka_settings, unique_prefix
from publish_helpers import (
    ReaderProcess,
    ServeProcess,
    child_holding,
    enrolment_correction,
    students_sql,
    veto_correction,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

AS_OF = "2026-06-30"
BUILD_TIMEOUT_S = 420


@dataclass
class Served:
    warehouse: Path
    lines: list[bytes]
    settings: Any
    worker: WorkerProcess
    serve: ServeProcess
    produced: int

    def produce(self, lines: list[bytes]) -> None:
        from ingestion.producer import produce_lines

        sent = produce_lines(lines, self.settings)
        assert sent["sent"] == len(lines) and sent["failed"] == 0
        self.produced += len(lines)

    def read_all(self) -> None:
        self.worker.wait_for(lambda c: c["read"] >= self.produced, timeout=180, what=f"read >= {self.produced}")

    def published(self, sql: str) -> Any:
        """`sql`'s first value on the published marts, as a reader connecting now sees them."""
        con = duckdb.connect(str(self.warehouse / "junheng.duckdb"), read_only=True)
        try:
            row = con.execute(sql).fetchone()
            return None if row is None else row[0]
        finally:
            con.close()

    def wait_published(self, predicate: Callable[[Served], bool], what: str) -> dict[str, Any]:
        """Until the published marts satisfy `predicate` and the builder has caught up with the
        landing; fails at once if a build failed."""
        from junheng.build.landing import watermark
        from junheng.build.publish import current_manifest
        from junheng.layout import WarehouseLayout

        layout = WarehouseLayout(self.warehouse)

        def done(status: dict[str, Any]) -> bool:
            assert status["builds"]["failed"] == 0, f"a build failed: {status['last_build']}\n{self.serve.log_tail()}"
            manifest = current_manifest(layout)
            return (
                bool(manifest)
                and status["state"] == "idle"
                and manifest["landing"] == watermark(layout)
                and predicate(self)
            )

        return self.serve.wait_for(done, BUILD_TIMEOUT_S, what)


@pytest.fixture(scope="module")
def served(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from ingestion.producer import create_topics
    from ingestion.synthetic import generate_city

    tmp = tmp_path_factory.mktemp("served")
    prefix = unique_prefix()
    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=2).values()) == {"created"}
    city = generate_city(seed=31, schools=60)
    warehouse = tmp / "wh"
    worker = WorkerProcess(kafka_bootstrap, prefix, warehouse, tmp / "worker.log", extra_args=["--no-gx"])
    serve = ServeProcess(warehouse, tmp / "serve.log", as_of=AS_OF, debounce=1.0, max_staleness=20.0)
    state = Served(warehouse, list(city.lines), settings, worker, serve, 0)
    try:
        state.produce(state.lines)
        state.read_all()
        state.wait_published(lambda s: True, "the city's first published marts")
        yield state
        assert serve.stop() == 0, serve.log_tail()
        status = json.loads((warehouse / "serve.json").read_text(encoding="utf-8"))
        assert status["state"] == "stopped" and status["builds"]["failed"] == 0, status
    finally:
        if serve.alive():
            serve.kill()
        worker.stop()
        try:
            delete_topics(kafka_bootstrap, prefix)
        except Exception as exc:  # cleanup must not hide the test's own result
            print(f"could not delete topics of {prefix}: {exc}")


def test_open_readers_never_fail_a_build_and_see_new_marts_when_they_reconnect(served: Served) -> None:
    first, (school_a, year_a, section_a, after_a) = enrolment_correction(served.lines, skip=0)
    second, (school_b, year_b, section_b, after_b) = enrolment_correction(served.lines, skip=1)
    query_a, query_b = students_sql(school_a, year_a, section_a), students_sql(school_b, year_b, section_b)
    version = served.serve.status()["published"]["version"]
    database = served.warehouse / "junheng.duckdb"

    with ReaderProcess("duckdb", database) as reader, ReaderProcess("sqlalchemy", database) as bi:
        old_a, old_b = reader.scalar(query_a), reader.scalar(query_b)
        assert (old_a, old_b) == (after_a - 40, after_b - 40) and (bi.scalar(query_a), bi.scalar(query_b)) == (
            old_a,
            old_b,
        )

        served.produce([first])
        working = served.warehouse / "work" / "junheng.duckdb"
        wait_until(
            lambda: served.serve.alive() and child_holding(served.serve.proc.pid, working),
            BUILD_TIMEOUT_S,
            "dbt building the first correction",
        )
        served.produce([second])  # landed while that build's dbt runs: the next build takes it
        served.read_all()
        status = served.wait_published(lambda s: s.published(query_b) == after_b, "both corrections published")

        assert status["published"]["version"] >= version + 2, status  # at least two builds ran meanwhile
        assert status["builds"]["failed"] == 0 and status["builds"]["ok"] >= 3
        for client in (reader, bi):  # their snapshot ...
            assert (client.scalar(query_a), client.scalar(query_b)) == (old_a, old_b), client.kind
        reader.reconnect()
        bi.reconnect()
        for client in (reader, bi):  # ... until they reconnect
            assert (client.scalar(query_a), client.scalar(query_b)) == (after_a, after_b), client.kind


def test_a_correction_reaches_marts_alerts_and_report_without_a_build_command(served: Served) -> None:
    line, (district, year) = veto_correction(served.lines)
    vetoed = f"select vetoed from mart_district_attainment where district_code = '{district}' and year = {year}"
    open_veto = (
        f"select alert_id from mart_alerts where is_open and alertname = 'DistrictVetoed' "
        f"and district_code = '{district}' and year = {year}"
    )
    assert served.published(vetoed) is False and served.published(open_veto) is None
    version = served.serve.status()["published"]["version"]

    served.produce([line])
    served.read_all()
    status = served.wait_published(lambda s: s.published(vetoed) is True, f"the veto of {district} {year} published")

    assert status["published"]["version"] > version
    alert_id = served.published(open_veto)
    assert alert_id, "mart_alerts holds the veto's alert, from the same build"
    book = json.loads((served.warehouse / "alerts" / "state.json").read_text(encoding="utf-8"))
    assert book["alerts"][alert_id].get("state", "firing") == "firing"
    html = (served.warehouse / "report" / "index.html").read_text(encoding="utf-8")
    assert alert_id in set(re.findall(r'data-alert="([0-9a-f]+)"', html)), "the report shows the new alert"
    export = duckdb.connect()
    try:
        assert export.execute(
            "select vetoed from read_parquet(?) where district_code = ? and year = ?",
            [str(served.warehouse / "export" / "mart_district_attainment.parquet"), district, year],
        ).fetchone() == (True,)
    finally:
        export.close()
