"""The worker's GX child process is SIGKILLed mid-stream: the worker starts a new one, asks it
again, and the run ends exactly as the embedded driver's run with GX in-process -- same counts,
same GX dead letters, each applied event landed once, the same district verdicts.

The suites run beside the worker's event loop in a child (expectations/process_validator.py). A
child that dies (out of memory, killed) is not a verdict on the batch in flight: the worker must
neither dead-letter that batch nor stop. Planted events pass the contract but fail a suite
(a monitoring difference rate of 3, the suite's bound is 1), so the verdicts after the restart
are shown to come from a working child."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from pipeline_helpers import WorkerProcess, embedded_reference, judged, kafka_settings, landed_event_ids, latest_status

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COUNTS = ("read", "applied", "duplicate", "stale", "dead_lettered")
PLANTED = 6


def _with_planted_gx_failures(lines: list[bytes]) -> list[bytes]:
    """The city's lines with PLANTED statistics events (new ids) that only the GX suite refuses,
    spread over the stream so some come before the kill and some after."""
    stats = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(event, dict)
            and event.get("event_type") == "district.statistics"
            and isinstance(event.get("payload"), dict)
        ):
            stats.append(event)
    assert len(stats) >= PLANTED
    out = list(lines)
    step = len(out) // (PLANTED + 1)
    for i, event in enumerate(stats[:PLANTED]):
        bad = dict(event, event_id=str(uuid.uuid4()), payload=dict(event["payload"], monitoring_difference_rate=3))
        out.insert((i + 1) * step + i, json.dumps(bad, ensure_ascii=False).encode())
    return out


def test_killed_gx_child_is_replaced_and_nothing_changes(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    from ingestion.contract import check_event
    from ingestion.producer import create_topics, produce_lines
    from ingestion.synthetic import generate_city

    city = generate_city(seed=43, schools=60, bad_fraction=0.01, duplicate_fraction=0.01, stale_fraction=0.01)
    lines = _with_planted_gx_failures(list(city.lines))
    assert sum(check_event(line).ok for line in lines) > 0.95 * len(lines)

    ref = embedded_reference(lines, tmp_path / "reference", gx=True)["counts"]
    assert ref["dead_letter_reasons"].get("gx") == PLANTED

    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=4).values()) == {"created"}
    half = len(lines) // 2
    assert produce_lines(lines[:half], settings)["sent"] == half
    warehouse = tmp_path / "warehouse"
    with WorkerProcess(
        kafka_bootstrap, prefix, warehouse, tmp_path / "worker.log", batch_size=200, batch_seconds=0.2
    ) as worker:
        first = worker.wait_for(
            lambda c: c["read"] >= half and (c.get("gx_child") or {}).get("pid"),
            timeout=180,
            what=f"read >= {half} with a GX child",
        )
        child = first["gx_child"]["pid"]
        assert first["gx"] == "child" and first["gx_child"]["restarts"] == 0
        three_quarters = len(lines) * 3 // 4
        assert produce_lines(lines[half:three_quarters], settings)["sent"] == three_quarters - half
        worker.wait_for(lambda c: c["read"] > half, timeout=60, what="the third quarter to start")
        os.kill(child, signal.SIGKILL)  # mid-stream: a batch may be in the child right now
        # the last quarter comes after the kill, so batches surely reach the child after it died
        assert produce_lines(lines[three_quarters:], settings)["sent"] == len(lines) - three_quarters
        worker.wait_for(lambda c: c["read"] >= len(lines), timeout=180, what=f"read == {len(lines)}")
        time.sleep(1.0)  # nothing more may arrive
        assert worker.stop() == 0, worker.log_tail()
    final = json.loads(worker.counts_file.read_text(encoding="utf-8"))

    assert final["gx_child"]["restarts"] == 1 and final["gx_child"]["pid"] not in (None, child)
    assert {k: final[k] for k in COUNTS} == {k: ref[k] for k in COUNTS}
    assert final["dead_letter_reasons"] == ref["dead_letter_reasons"]
    assert final["internal_errors"] == 0 and final["balanced"]
    reference_wh = tmp_path / "reference" / "warehouse"
    assert sorted(landed_event_ids(warehouse)) == sorted(landed_event_ids(reference_wh))
    assert judged(latest_status(warehouse)) == judged(latest_status(reference_wh))
