"""A report corrected after a Kafka run (issue #13, item 1): the loader reads what the worker
applied (its warehouse's landing), so the correction's seq supersedes it and the worker applies it
-- no stale version, no seq_conflict, nothing sent twice."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pipeline_helpers import WorkerProcess, caught_up, delete_topics, end_offsets, kafka_settings, unique_prefix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingestion"))
from test_reports_bureau import ROWS, SCHOOL_B, _bureau_xlsx  # noqa: E402

pytestmark = pytest.mark.kafka


def test_a_report_corrected_after_a_kafka_run_is_applied(kafka_bootstrap: str, tmp_path: Path) -> None:
    import json

    from ingestion.producer import create_topics, produce_lines
    from ingestion.reports import load

    prefix = unique_prefix()
    settings = kafka_settings(kafka_bootstrap, prefix)
    try:
        assert set(create_topics(settings, partitions=4).values()) == {"created"}
        topic = settings.topic("events")
        warehouse = tmp_path / "kafka-warehouse"
        first = load(_bureau_xlsx(tmp_path / "a.xlsx"), warehouse=warehouse).events
        with WorkerProcess(
            kafka_bootstrap, prefix, warehouse, tmp_path / "worker.log", extra_args=["--no-gx"]
        ) as worker:
            produce_lines([json.dumps(e, ensure_ascii=False).encode() for e in first], settings)
            ends = end_offsets(kafka_bootstrap, topic)
            done = worker.wait_for(lambda c: caught_up(c, topic, ends), timeout=120, what="the first report")
            assert done["applied"] == len(first) and done["dead_lettered"] == 0

            corrected = [list(r) for r in ROWS]
            corrected[2][8] = 3
            events = load(_bureau_xlsx(tmp_path / "b.xlsx", corrected), warehouse=warehouse).events
            assert [(e["event_type"], e["school_id"], e["seq"]) for e in events] == [("school.staff", SCHOOL_B, 1)]
            produce_lines([json.dumps(e, ensure_ascii=False).encode() for e in events], settings)
            ends = end_offsets(kafka_bootstrap, topic)
            after = worker.wait_for(lambda c: caught_up(c, topic, ends), timeout=120, what="the correction")
            assert worker.stop() == 0, worker.log_tail()
        assert after["applied"] == len(first) + 1 and after["stale"] == 0 and after["dead_lettered"] == 0
        again = load(_bureau_xlsx(tmp_path / "c.xlsx", corrected), warehouse=warehouse)
        assert again.events == []  # loaded twice: the warehouse holds it as it is
    finally:
        delete_topics(kafka_bootstrap, prefix)
