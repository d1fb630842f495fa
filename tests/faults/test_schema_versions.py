"""Two contract versions on one topic: a city stream with about half of its events written as
schema_version 2 (the same facts, ingestion.synthetic.versions.mix_versions), through the shared
broker and the Faust worker, must give exactly what the all-version-1 stream gives.

Producers move to a new contract one by one, so for a while a topic carries both versions, even
for one district, one school, one fact (a v2 event may supersede a v1 one, or repeat it). The
platform upcasts v2 in the contract check (ingestion/contract/upcast.py) and the rest of the
pipeline sees one shape; this test proves the outcome does not depend on which version an event
came in, and that the landing still says which one it was (events.schema_version).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from pipeline_helpers import (
    WorkerProcess,
    _query,
    embedded_reference,
    judged,
    kafka_settings,
    landed_event_ids,
    latest_status,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COUNTS = ("read", "applied", "duplicate", "stale", "dead_lettered")
WORKER_ARGS = ["--no-gx"]  # GX is orthogonal to the versions and slow on 2 cores; references match


def _versions_landed(warehouse: Path) -> dict[str, int]:
    _, rows = _query(
        f"select lower(event_id), schema_version from read_parquet('{warehouse}/landing/events/*.parquet')"
    )
    out: dict[str, int] = {}
    for event_id, version in rows:
        assert event_id not in out, f"{event_id} landed twice"
        out[event_id] = version
    return out


def _enrolment_payload_keys(warehouse: Path) -> Counter[str]:
    """Top-level payload keys of the landed school.enrolment events (v1: sections; v2: grades)."""
    _, rows = _query(
        f"select payload from read_parquet('{warehouse}/landing/events/*.parquet') "
        f"where event_type = 'school.enrolment'"
    )
    return Counter(k for (payload,) in rows for k in json.loads(payload))


def test_mixed_v1_v2_stream_equals_the_all_v1_run(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    from ingestion.contract import check_event
    from ingestion.producer import create_topics, produce_lines
    from ingestion.synthetic import generate_city
    from ingestion.synthetic.versions import mix_versions

    t0 = time.monotonic()
    city = generate_city(seed=41, schools=60, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02)
    lines = city.lines
    mixed, converted = mix_versions(lines, fraction=0.5, seed=5)
    valid = sum(1 for line in lines if check_event(line).ok)
    assert 0.4 * valid < len(converted) < 0.6 * valid  # about half of the events are version 2
    types_v2 = Counter(json.loads(mixed[i])["event_type"] for i in converted)
    assert len(types_v2) == 10 and types_v2["school.enrolment"] > 50  # every type, the reshaped one often

    # what each applied event arrived as: its first line (a later one with the same id is a duplicate)
    arrived: dict[str, int] = {}
    for i, line in enumerate(mixed):
        verdict = check_event(line)
        if verdict.ok and city.category(i) == "valid":
            arrived.setdefault(verdict.event["event_id"].lower(), verdict.event["schema_version"])  # type: ignore[index]
    assert set(arrived.values()) == {1, 2}

    # the clean reference: all version 1, embedded; then the embedded driver on the mixed input
    clean = embedded_reference(lines, tmp_path / "clean-v1", gx=False)
    embedded_mixed = embedded_reference(mixed, tmp_path / "embedded-mixed", gx=False)
    ref = clean["counts"]
    assert clean["summary"].balanced() and ref["applied"] > 1500
    assert {k: embedded_mixed["counts"][k] for k in COUNTS} == {k: ref[k] for k in COUNTS}
    assert embedded_mixed["counts"]["dead_letter_reasons"] == ref["dead_letter_reasons"]
    clean_ids = sorted(landed_event_ids(clean["warehouse"]))
    clean_judged = judged(latest_status(clean["warehouse"]))
    assert sorted(landed_event_ids(embedded_mixed["warehouse"])) == clean_ids
    assert judged(latest_status(embedded_mixed["warehouse"])) == clean_judged
    assert _versions_landed(embedded_mixed["warehouse"]) == arrived

    # the mixed input through Kafka and the Faust worker
    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=4).values()) == {"created"}
    produced = produce_lines(mixed, settings)
    assert produced["sent"] == len(mixed) and produced["failed"] == 0
    warehouse = tmp_path / "kafka-warehouse"
    with WorkerProcess(kafka_bootstrap, prefix, warehouse, tmp_path / "worker.log", extra_args=WORKER_ARGS) as worker:
        worker.wait_for(lambda c: c["read"] >= len(mixed), timeout=150, what=f"read == {len(mixed)}")
        time.sleep(1.0)  # nothing more may arrive
        assert worker.stop() == 0, worker.log_tail()
        log = worker.log_tail(100_000)
    final = json.loads(worker.counts_file.read_text(encoding="utf-8"))
    assert {k: final[k] for k in COUNTS} == {k: ref[k] for k in COUNTS}
    assert final["dead_letter_reasons"] == ref["dead_letter_reasons"]
    assert final["internal_errors"] == 0
    # v2 events are keyed by subject.district_code: a district never spans two partitions
    assert "arrives on partitions" not in log

    assert sorted(landed_event_ids(warehouse)) == clean_ids  # each applied event landed once
    mine = latest_status(warehouse)
    assert len(mine) > 0 and judged(mine) == clean_judged

    # lineage: every landed event keeps the version it arrived in; the payload is version 1's shape
    assert _versions_landed(warehouse) == arrived
    keys = _enrolment_payload_keys(warehouse)
    assert keys["sections"] > 0 and set(keys) == {"sections"}
    print(
        f"\n{len(mixed)} lines, {len(converted)} as v2: worker busy {final['process_s']:.1f} s in "
        f"{final['batches']} batches; test {time.monotonic() - t0:.1f} s"
    )
