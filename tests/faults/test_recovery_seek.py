"""A record handed to the agent between recovery's seek and the end of recovery is not lost.

The failure this guards against (docs/reliability.md, "Bugs the suite found", 4): when Faust's
recovery has sought the stream partitions to their committed offsets it calls
``app.flow_control.resume()``, which empties the agents' queues, and only then lets the consumer
fetch again. ``streams.faust_patches.hold_flow_while_seeking`` used to resume the consumer's flow itself at
the end of the seek, so a fetch that landed in those few event-loop turns was handed to the agent,
moved Faust's read offset, and was thrown away with the queue: the agent got the partition from
a later offset on, without the first records. On a loaded machine that happened in the kill test
(one school's registration never reached the new owner, so its next event was dead-lettered
``unknown_school``).

The interleaving is forced here with the test plugin's hook ``JUNHENG_FAULT_DELIVER_AFTER_SEEK``
(tests/plugins/faults.py deliver_before_recovery_ends): after the seek, if the consumer's flow is running, it
holds recovery until the fetcher has handed the agent a record. On a fresh topic whose input is
already there, that is the first records of the partition. The worker must still read and judge
every line exactly as the embedded driver does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import SESSION_TIMEOUT_S, WORKER_ARGS, dead_letter_report, landed_dead_letters, wait_until
from pipeline_helpers import WorkerProcess, embedded_reference, kafka_settings, landed_event_ids

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
from faults import DELIVER_AFTER_SEEK as FAULT_DELIVER_ENV  # noqa: E402  (the plugin installs it in the worker)

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COUNTS = ("read", "applied", "duplicate", "stale", "dead_lettered")


def _worker(bootstrap: str, prefix: str, tmp: Path, worker_id: str) -> WorkerProcess:
    return WorkerProcess(
        bootstrap,
        prefix,
        tmp / "kafka-warehouse",
        tmp / f"worker-{worker_id}.log",
        counts_file=tmp / f"counts-{worker_id}.json",
        batch_size=200,
        batch_seconds=0.3,
        worker_id=worker_id,
        session_timeout=SESSION_TIMEOUT_S,
        extra_args=WORKER_ARGS,
    )


def _processed(worker: WorkerProcess, topic: str, offset: int) -> bool:
    """The worker finished a batch holding `offset` of the topic's one partition."""
    c = worker.counts() or {}
    return c.get("pid") == worker.proc.pid and c.get("last_offsets", {}).get(f"{topic}:0", -1) >= offset


def test_records_handed_over_before_recovery_ends_reach_the_agent(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """w1 judges the first part and stops (its offsets committed); the second part is produced
    while no worker runs; w2 starts with the hook, so its recovery (reading w1's facts) seeks
    to w1's commit and then holds until records of the second part were handed to the agent;
    the third part is produced once w2 is consuming. w2 must read the second and third parts
    whole, and the two workers together must judge every line as the embedded driver does."""
    from collections import Counter

    from ingestion.producer import create_topics, produce_lines
    from ingestion.synthetic import generate_city

    city = generate_city(seed=17, schools=30, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02)
    lines = city.lines
    labels = [city.labels.get(i, "valid") for i in range(len(lines))]
    reference = embedded_reference(lines, tmp_path / "embedded", gx=False)["counts"]
    settings = kafka_settings(kafka_bootstrap, prefix)
    # one partition: what w2 must not miss are the first records after w1's commit
    assert set(create_topics(settings, partitions=1).values()) == {"created"}
    topic = settings.topic("events")
    first, second = len(lines) * 2 // 5, len(lines) * 3 // 5

    assert produce_lines(lines[:first], settings)["failed"] == 0
    w1 = _worker(kafka_bootstrap, prefix, tmp_path, "w1")
    try:
        wait_until(lambda: _processed(w1, topic, first - 1), 120, "w1 judging the first part", [w1])
        assert w1.stop() == 0, w1.log_tail()  # SIGTERM: Faust commits what w1 acknowledged
    finally:
        w1.kill()
    c1: dict[str, Any] = json.loads(w1.counts_file.read_text())
    assert c1["read"] == first

    assert produce_lines(lines[first:second], settings)["failed"] == 0
    monkeypatch.setenv(FAULT_DELIVER_ENV, "1")  # inherited by the worker subprocess only
    w2 = _worker(kafka_bootstrap, prefix, tmp_path, "w2")
    monkeypatch.delenv(FAULT_DELIVER_ENV)
    try:
        wait_until(
            lambda: len((w2.counts() or {}).get("assigned", [])) == 1 and (w2.counts() or {}).get("batches", 0) > 0,
            120,
            "w2 consuming",
            [w2],
        )
        assert produce_lines(lines[second:], settings)["failed"] == 0
        wait_until(lambda: _processed(w2, topic, len(lines) - 1), 120, "w2 judging the last record", [w2])
        assert w2.stop() == 0, w2.log_tail()
    finally:
        w2.kill()
    log = w2.log_tail(100_000)
    injected = [line.split("] ", 3)[-1] for line in log.splitlines() if f"injected: {FAULT_DELIVER_ENV}" in line]
    assert injected, log[-3000:]  # the hook met w2's recovery seek
    c2: dict[str, Any] = json.loads(w2.counts_file.read_text())
    bad = Counter(line for line, label in zip(lines, labels) if label.startswith("bad:"))
    report = dead_letter_report(landed_dead_letters(tmp_path / "kafka-warehouse"), bad)
    # w2 got every record after w1's commit (w1 committed all it read: nothing re-delivered),
    # without a hole
    assert c2["skipped_records"] == 0 and c2["read"] == len(lines) - first, (
        injected,
        c2["skipped_records"],
        {k: c2[k] for k in COUNTS},
        report,
    )
    together = {k: c1[k] + c2[k] for k in COUNTS}
    assert together == {k: reference[k] for k in COUNTS}, report
    assert (
        dict(Counter(c1["dead_letter_reasons"]) + Counter(c2["dead_letter_reasons"]))
        == reference["dead_letter_reasons"]
    ), report
    assert len(landed_event_ids(tmp_path / "kafka-warehouse")) == reference["applied"]
    print(f"\n{injected}; w1 {json.dumps({k: c1[k] for k in COUNTS})}; w2 {json.dumps({k: c2[k] for k in COUNTS})}")
