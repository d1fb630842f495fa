"""End to end through Kafka: producer → events topic → Faust worker (subprocess) → topics + landing.

The embedded driver over the same lines is the reference: the worker must count and judge
exactly as it does. Needs the local broker (infra/kafka/kafka.sh start); every test uses its
own topic prefix, so its topics, consumer group and changelog are fresh.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
from pipeline_helpers import (
    WorkerProcess,
    caught_up,
    delete_topics,
    embedded_reference,
    end_offsets,
    judged,
    kafka_settings,
    landed_count,
    landed_event_ids,
    latest_status,
    read_topic,
    unique_prefix,
)

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

COUNTS = ("read", "applied", "duplicate", "stale", "dead_lettered")


@pytest.fixture
def prefix(kafka_bootstrap):
    """A topic prefix no other run uses; its topics are deleted afterwards."""
    name = unique_prefix()
    yield name
    try:
        delete_topics(kafka_bootstrap, name)
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"could not delete topics of {name}: {exc}")


def _city(seed: int):
    from ingestion.synthetic import generate_city

    return generate_city(seed=seed, schools=150, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02)


def _setup_topics(bootstrap: str, prefix: str):
    from ingestion.producer import create_topics

    settings = kafka_settings(bootstrap, prefix)
    status = create_topics(settings, partitions=4)
    assert set(status.values()) == {"created"}
    return settings


def test_city_through_kafka_matches_embedded(kafka_bootstrap, prefix, tmp_path):
    from ingestion.producer import produce_lines

    t0 = time.monotonic()
    city = _city(seed=11)
    lines = city.lines
    reference = embedded_reference(lines, tmp_path / "embedded")
    ref = reference["counts"]
    assert reference["summary"].balanced()

    settings = _setup_topics(kafka_bootstrap, prefix)
    produced = produce_lines(lines, settings)
    assert produced["sent"] == len(lines) and produced["failed"] == 0

    warehouse = tmp_path / "kafka-warehouse"
    with WorkerProcess(kafka_bootstrap, prefix, warehouse, tmp_path / "worker.log") as worker:
        counts = worker.wait_for(lambda c: c["read"] >= len(lines), timeout=120, what=f"read == {len(lines)}")
        time.sleep(1.0)  # nothing more may arrive
        counts = worker.counts()
        assert worker.stop() == 0, worker.log_tail()
    final = json.loads(worker.counts_file.read_text())
    assert final["status"] == "stopped"
    assert {k: final[k] for k in COUNTS} == {k: counts[k] for k in COUNTS}

    # (a) every event has exactly one outcome, and the outcomes are the embedded driver's
    assert final["read"] == len(lines)
    assert final["read"] == final["applied"] + final["duplicate"] + final["stale"] + final["dead_lettered"]
    assert {k: final[k] for k in COUNTS} == {k: ref[k] for k in COUNTS}
    assert final["dead_letter_reasons"] == ref["dead_letter_reasons"]
    assert final["internal_errors"] == 0

    # (b) the final attainment per district and year is the embedded driver's
    mine, theirs = latest_status(warehouse), latest_status(reference["warehouse"])
    assert set(mine) == set(theirs) and len(mine) > 0
    assert {k: v["attained"] for k, v in mine.items()} == {k: v["attained"] for k, v in theirs.items()}
    assert judged(mine) == judged(theirs)
    # every applied event landed once, the same ones as embedded
    assert sorted(landed_event_ids(warehouse)) == sorted(landed_event_ids(reference["warehouse"]))
    assert landed_count(warehouse, "dead_letters") == ref["dead_lettered"]

    # (c) the dead-letter topic holds exactly the bad lines, byte for byte, with a reason
    bad_lines = Counter(line for i, line in enumerate(lines) if city.category(i).startswith("bad:"))
    dead = read_topic(kafka_bootstrap, settings.topic("dead-letters"), expect=final["dead_lettered"])
    assert len(dead) == final["dead_lettered"] == sum(bad_lines.values())
    assert Counter(m.value for m in dead) == bad_lines
    for m in dead:
        assert m.headers["reason"] and m.headers["reason_code"].decode() in final["dead_letter_reasons"]
        origin = json.loads(m.headers["origin"])
        assert origin["topic"] == settings.topic("events") and origin["offset"] >= 0

    # the result topics carry what was landed
    statuses = read_topic(kafka_bootstrap, settings.topic("district-status"))
    assert len(statuses) == landed_count(warehouse, "district_status")
    assert all(m.key == json.loads(m.value)["district_code"].encode() for m in statuses)
    sections = read_topic(kafka_bootstrap, settings.topic("section-results"))
    assert len(sections) == landed_count(warehouse, "section_results")
    print(
        f"\n{len(lines)} lines: produced in {produced['elapsed_s']:.1f} s, worker busy "
        f"{final['process_s']:.1f} s in {final['batches']} batches, test {time.monotonic() - t0:.1f} s"
    )


def _event(event_type: str, **overrides):
    from ingestion.contract.examples import example_event

    return example_event(event_type, event_id=str(uuid.uuid4()), **overrides)


def _enc(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def test_bad_input_is_accounted_for_and_worker_keeps_going(kafka_bootstrap, prefix, tmp_path):
    from ingestion.producer import produce_lines

    registered = _event("school.registered")
    enrolment = _event("school.enrolment")
    schema_break = _event("school.staff")
    del schema_break["event_type"]
    impossible = _event("school.staff")
    impossible["payload"]["sections"]["primary"]["qualified_teachers"] = 99  # more than 12 teachers
    unknown_district = _event("district.statistics", district_code="889999")
    unknown_school = _event("school.enrolment", school_id="3702029999")
    stale = _event("school.enrolment", seq=0)  # seq 1 already applied
    elsewhere = _event("school.registered", district_code="370203")  # another partition
    implausible = _event("school.finance")
    implausible["payload"]["public_funds_budget_yuan"] = 1e14
    id_reused = _event("school.staff", seq=7) | {"event_id": enrolment["event_id"]}  # a known id, another fact
    oversized = _enc(_event("school.staff"))[:-1] + b" " * 70_000 + b"}"  # > 64 KiB
    corpus = [
        ("applied", _enc(registered)),
        ("applied", _enc(enrolment)),
        ("not_json", b'{"event_id": "9c4e", "event_type": '),
        ("not_json", b"\xff\xfe\x00 binary garbage"),
        ("schema", _enc(schema_break)),
        ("not_object", _enc([enrolment])),
        ("impossible_value", _enc(impossible)),
        ("unknown_district", _enc(unknown_district)),
        ("unknown_school", _enc(unknown_school)),
        ("duplicate", _enc(enrolment)),
        ("stale", _enc(stale)),
        ("oversized", oversized),
        ("implausible_value", _enc(implausible)),
        ("event_id_conflict", _enc(id_reused)),
    ]
    lines = [line for _, line in corpus]
    expected = Counter(kind for kind, _ in corpus)
    dead_kinds = {k for k in expected if k not in ("applied", "duplicate", "stale")}

    settings = _setup_topics(kafka_bootstrap, prefix)
    warehouse = tmp_path / "kafka-warehouse"
    with WorkerProcess(kafka_bootstrap, prefix, warehouse, tmp_path / "worker.log") as worker:
        produced = produce_lines(lines, settings)
        assert produced["sent"] == len(lines)
        assert produced["unknown_key"] == 3  # two lines that are not JSON, one JSON array
        counts = worker.wait_for(lambda c: c["read"] >= len(lines), timeout=90, what="the bad-input corpus")
        time.sleep(1.0)
        counts = worker.counts()
        assert worker.alive(), worker.log_tail()
        assert counts["read"] == len(lines)
        assert counts["applied"] == expected["applied"] == 2
        assert counts["duplicate"] == 1 and counts["stale"] == 1
        assert counts["dead_lettered"] == sum(expected[k] for k in dead_kinds) == 10
        assert counts["dead_letter_reasons"] == {k: expected[k] for k in dead_kinds}
        assert counts["internal_errors"] == 0

        # a good event after all that is still applied; the school registered again by another
        # district (another partition: produced after the first registration was applied, since
        # across partitions the first registration *seen* wins) is dead-lettered
        good = _event("school.staff", seq=2)
        produce_lines([_enc(good), _enc(elsewhere)], settings)
        after = worker.wait_for(lambda c: c["read"] >= len(lines) + 2, timeout=60, what="the good event")
        assert after["applied"] == counts["applied"] + 1
        assert after["dead_letter_reasons"]["school_in_other_district"] == 1
        assert after["read"] == after["applied"] + after["duplicate"] + after["stale"] + after["dead_lettered"]
        assert worker.alive()
        assert worker.stop() == 0, worker.log_tail()

    dead = read_topic(kafka_bootstrap, settings.topic("dead-letters"), expect=11)
    assert len(dead) == 11
    by_value = {m.value: m.headers["reason_code"].decode() for m in dead}
    assert by_value == {line: kind for kind, line in corpus if kind in dead_kinds} | {
        _enc(elsewhere): "school_in_other_district"
    }
    assert landed_count(warehouse, "dead_letters") == 11
    assert good["event_id"] in landed_event_ids(warehouse)
    # the worker recorded the jurisdiction it judged with (an unknown district is judged by this list)
    recorded = json.loads((warehouse / "jurisdiction.json").read_text(encoding="utf-8"))
    assert recorded["recorded_by"].startswith("junheng worker") and recorded["district_count"] == 10
    assert recorded["catalogue"] == "qingdao-2021" and recorded["packaged_districts"] is True


def test_restarted_worker_recovers_state_from_the_changelog(kafka_bootstrap, prefix, tmp_path):
    """A worker killed (SIGKILL: no commit) after the first half; a new process takes over.
    The second half's school facts need the first half's registrations, so they only apply
    if the district states were rebuilt from the facts table; events re-delivered because
    their offsets were not committed come out as duplicates, never applied twice."""
    from ingestion.producer import produce_lines

    city = _city(seed=23)
    lines = city.lines
    half = len(lines) // 2
    first, second = lines[:half], lines[half:]
    reference = embedded_reference(lines, tmp_path / "embedded")
    ref = reference["counts"]

    settings = _setup_topics(kafka_bootstrap, prefix)
    events_topic = settings.topic("events")
    warehouse = tmp_path / "kafka-warehouse"

    produce_lines(first, settings)
    ends = end_offsets(kafka_bootstrap, events_topic)
    w1 = WorkerProcess(
        kafka_bootstrap,
        prefix,
        warehouse,
        tmp_path / "worker1.log",
        counts_file=tmp_path / "counts1.json",
        worker_id="w1",
        session_timeout=8,
    )
    try:
        c1 = w1.wait_for(
            lambda c: c["read"] >= half and caught_up(c, events_topic, ends), timeout=120, what="the first half"
        )
    finally:
        w1.kill()
    assert c1["read"] == half

    produce_lines(second, settings)
    ends = end_offsets(kafka_bootstrap, events_topic)
    with WorkerProcess(
        kafka_bootstrap,
        prefix,
        warehouse,
        tmp_path / "worker2.log",
        counts_file=tmp_path / "counts2.json",
        worker_id="w2",
        session_timeout=8,
    ) as w2:
        c2 = w2.wait_for(lambda c: caught_up(c, events_topic, ends), timeout=120, what="the second half")
        assert w2.stop() == 0, w2.log_tail()
    c2 = json.loads(w2.counts_file.read_text())

    redelivered = c2["read"] - len(second)
    assert 0 <= redelivered <= half
    assert c2["state_rebuilds"] > 0
    assert c2["internal_errors"] == 0
    # nothing applied twice, nothing lost
    assert c1["applied"] + c2["applied"] == ref["applied"]
    assert sorted(set(landed_event_ids(warehouse))) == sorted(landed_event_ids(reference["warehouse"]))
    assert judged(latest_status(warehouse)) == judged(latest_status(reference["warehouse"]))
    print(
        f"\nre-delivered after SIGKILL: {redelivered}; states rebuilt: {c2['state_rebuilds']} "
        f"in {c2['state_rebuild_s']:.2f} s"
    )


def test_failed_batch_is_not_committed_and_is_redelivered(kafka_bootstrap, prefix, tmp_path):
    """Landing fails (disk trouble, simulated by a file where the folder should be): the worker
    stops with exit code 70 without acknowledging the batch; the next worker gets it again."""
    from ingestion.producer import produce_lines

    lines = [
        _enc(_event("school.registered")),
        _enc(_event("school.enrolment")),
        _enc(_event("school.staff")),
        b"not json at all",
    ]
    settings = _setup_topics(kafka_bootstrap, prefix)
    produce_lines(lines, settings)
    warehouse = tmp_path / "kafka-warehouse"
    blocker = warehouse / "landing" / "events"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")

    w1 = WorkerProcess(kafka_bootstrap, prefix, warehouse, tmp_path / "worker1.log", session_timeout=8)
    try:
        code = w1.proc.wait(90)
    finally:
        w1.kill()
    assert code == 70, w1.log_tail()
    crashed = w1.counts()
    assert crashed["status"] == "crashed" and crashed["read"] == 0
    assert "stopping without committing" in w1.log_tail(200)

    blocker.unlink()
    with WorkerProcess(kafka_bootstrap, prefix, warehouse, tmp_path / "worker2.log", session_timeout=8) as w2:
        counts = w2.wait_for(lambda c: c["read"] >= len(lines), timeout=90, what="the re-delivered batch")
        assert w2.stop() == 0, w2.log_tail()
    assert (counts["read"], counts["applied"], counts["dead_lettered"]) == (4, 3, 1)
    assert len(landed_event_ids(warehouse)) == 3


def test_processing_error_dead_letters_only_the_failing_record(monkeypatch, tmp_path):
    """No broker needed: the worker's batch handler, when the processing core raises (a bug,
    not bad input), retries record by record, dead-letters the one that fails as
    internal_error, and keeps the district state exactly as if that record had not come."""
    from junheng.settings import KafkaSettings
    from rules.state import DistrictState
    from streams.kafka_config import WorkerConfig
    from streams.processing import Record
    from streams.worker_runtime import StreamRuntime

    poisoned = _event("school.staff")
    original = DistrictState.apply

    def apply(self, event):
        if event["event_id"] == poisoned["event_id"]:
            raise ZeroDivisionError("boom")
        return original(self, event)

    monkeypatch.setattr(DistrictState, "apply", apply)
    runtime = StreamRuntime(None, KafkaSettings(topic_prefix="unit"), WorkerConfig(warehouse=tmp_path), table={})
    events = [_event("school.registered"), _event("school.enrolment"), poisoned, _event("school.finance")]
    records = [Record(_enc(e), {"topic": "t", "partition": 0, "offset": i}) for i, e in enumerate(events)]
    result = runtime.pipeline.process(records)
    assert result.touched == {"370202"} and result.internal_errors == 1
    assert result.counts["read"] == 4 and result.counts["applied"] == 3 and result.counts["dead_lettered"] == 1
    assert [d.code for d in result.dead_letters] == ["internal_error"]
    assert result.dead_letters[0].message == "ZeroDivisionError: boom"
    assert result.dead_letters[0].raw == records[2].raw
    state = runtime.states["370202"]
    assert {v[1] for v in state.versions.values()} == {
        events[0]["event_id"],
        events[1]["event_id"],
        events[3]["event_id"],
    }
