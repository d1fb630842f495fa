"""`junheng dlq replay --kafka` on a warehouse fed by the real Faust worker: a district missing
from the worker's district list dead-letters its events; the list is fixed and the worker
restarted; the replay produces the open dead letters to the events topic again; the worker applies
each once; the one whose district is still unknown is refused again and listed as open again."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import factories as f
import pytest
from pipeline_helpers import WorkerProcess, delete_topics, kafka_settings, landed_event_ids, unique_prefix

from ingestion.reference import districts_csv
from junheng.cli import main
from streams.dead_letters import read_dead_letters

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def prefix(kafka_bootstrap):
    name = unique_prefix()
    yield name
    try:
        delete_topics(kafka_bootstrap, name)
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"could not delete topics of {name}: {exc}")


def _without(tmp_path: Path, code: str) -> Path:
    with districts_csv().open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    path = tmp_path / "districts-short.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["district_code"] != code)
    return path


def _wait(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timeout waiting for {what}")


def test_dead_letters_replayed_through_kafka_apply_once(kafka_bootstrap, prefix, tmp_path, monkeypatch, capsys):
    from ingestion.producer import create_topics, produce_lines

    settings = kafka_settings(kafka_bootstrap, prefix)
    create_topics(settings, partitions=2)
    events = f.good_district(schools=1)
    stuck = f.district_registered(district="370299")  # a district no list names
    lines = [json.dumps(e, ensure_ascii=False).encode("utf-8") for e in [*events, stuck]]
    wh = tmp_path / "wh"
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(_without(tmp_path, f.DISTRICT)))
    with WorkerProcess(kafka_bootstrap, prefix, wh, tmp_path / "worker1.log", extra_args=["--no-gx"]) as worker:
        produce_lines(lines, settings)
        counts = worker.wait_for(lambda c: c["read"] >= len(lines), what="every line read")
        assert counts["dead_lettered"] == len(lines) and counts["applied"] == 0
        _wait(lambda: len(read_dead_letters(wh)) == len(lines), "the dead letters landed")

    monkeypatch.delenv("JUNHENG_DISTRICTS")  # the fix; the worker restarts with the packaged list
    monkeypatch.setenv("JUNHENG_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("JUNHENG_TOPIC_PREFIX", prefix)
    assert main(["dlq", "replay", "--all", "--warehouse", str(wh)]) == 2  # not embedded on a worker's warehouse
    assert "replay with --kafka" in capsys.readouterr().err
    with WorkerProcess(kafka_bootstrap, prefix, wh, tmp_path / "worker2.log", extra_args=["--no-gx"]) as worker:
        assert (
            main(["dlq", "replay", "--all", "--kafka", "--warehouse", str(wh), "--json", "--note", "370202 listed"])
            == 0
        )
        done = json.loads(capsys.readouterr().out)
        assert done["produced"] == len(lines) and done["failed"] == [] and done["topic"] == f"{prefix}.events"
        counts = worker.wait_for(lambda c: c["read"] >= len(lines), what="the replayed lines read")
        assert counts["applied"] == len(events) and counts["dead_lettered"] == 1 and counts["read"] == len(lines)
        _wait(lambda: sum(d.landings for d in read_dead_letters(wh)) == len(lines) + 1, "the refused one landed")

    assert sorted(landed_event_ids(wh)) == sorted(e["event_id"] for e in events)  # once each
    letters = {d.id: d for d in read_dead_letters(wh)}
    still = [d for d in letters.values() if d.status == "open"]
    assert len(still) == 1 and still[0].district == "370299" and still[0].landings == 2
    assert sum(d.status == "replayed" for d in letters.values()) == len(events)
    assert main(["dlq", "list", "--warehouse", str(wh), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["count"] == 1 and listed["by_reason"] == {"unknown_district": 1}
