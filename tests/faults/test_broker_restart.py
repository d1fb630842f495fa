"""Fault 2 (with fault 4's input): the broker is stopped and started again mid-stream.

The broker is one of this test's own (infra/kafka/kafka.sh with KAFKA_PORT/KAFKA_DATA_DIR on a
free port and a temporary data dir): the shared broker on 9092 is never stopped. While the
paced producer is sending and the worker is consuming, the broker is stopped (SIGTERM, controlled
shutdown), kept down for a few seconds and started again on the same data. The producer's sends
wait and retry (idempotent: nothing is written twice); the worker's consumer, producer and group
membership reconnect. The result must be complete and exactly the clean run's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import (
    SESSION_TIMEOUT_S,
    WORKER_ARGS,
    FaultCity,
    Incarnation,
    Ledger,
    MartBuild,
    PacedProducer,
    Phase,
    SeparateBroker,
    dead_letter_report,
    landed_dead_letters,
    ledger,
    mart_differences,
    mart_snapshot,
    wait_committed,
    wait_until,
)
from pipeline_helpers import WorkerProcess, end_offsets, judged, kafka_settings, latest_status, unique_prefix

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

DOWN_S = 3.0  # kept down this long after the stop (~5 s) and before the start (~12-16 s)


@dataclass
class BrokerRun:
    warehouse: Path
    worker_pid_before: int
    worker_pid_after: int
    exit_code: int
    counts: dict[str, Any]
    end_total: int
    batches_before_stop: int
    sent_before_stop: int
    sent_during_restart: int
    ledger: Ledger
    dead_letters: Any  # landed, with reasons (fault_helpers.DeadLetterRow)
    judged: dict[Any, Any]
    build: MartBuild
    broker_timings: dict[str, float]
    phase: Phase
    figures: dict[str, Any] = field(default_factory=dict)

    def marts(self) -> dict[str, Any]:
        return mart_snapshot(Path(self.build.result()["database"]))


@pytest.fixture(scope="session")
def broker_run(fault_city: FaultCity, clean_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerRun]:
    from ingestion.producer import create_topics

    tmp = tmp_path_factory.mktemp("broker")
    broker = SeparateBroker(tmp / "broker-data")
    phase = Phase()
    worker: WorkerProcess | None = None
    try:
        broker.start()
        phase.mark("broker started")
        prefix = unique_prefix()
        settings = kafka_settings(broker.bootstrap, prefix)
        assert set(create_topics(settings, partitions=4).values()) == {"created"}
        topic, group = settings.topic("events"), f"{prefix}-worker"
        warehouse = tmp / "kafka-warehouse"
        worker = WorkerProcess(
            broker.bootstrap,
            prefix,
            warehouse,
            tmp / "worker.log",
            worker_id="r1",
            batch_size=200,
            batch_seconds=0.3,
            session_timeout=SESSION_TIMEOUT_S,
            extra_args=WORKER_ARGS,
        )
        w = worker
        pid = w.proc.pid
        wait_until(lambda: len((w.counts() or {}).get("assigned", [])) == 4, 120, "the worker assigned", [w])
        lines = fault_city.lines
        producer = PacedProducer(lines, settings, quota=len(lines) // 3)
        producer.start()
        phase.mark("worker assigned, producing")
        wait_until(lambda: (w.counts() or {}).get("batches", 0) >= 3, 120, "a few batches before the restart", [w])
        batches_before, sent_before = w.counts()["batches"], producer.sent  # type: ignore[index]
        # ---- the fault: stop the broker under the running producer and worker, then start it again
        broker.stop()
        phase.mark("broker stopped")
        time.sleep(DOWN_S)  # injection, not an assertion: the broker stays down this long
        broker.start()
        phase.mark("broker restarted")
        sent_during = producer.sent - sent_before
        producer.allow(len(lines))
        assert producer.pending(), "the restart must happen while input is still arriving"
        # the same worker goes on after the restart
        wait_until(
            lambda: (w.counts() or {}).get("batches", 0) > batches_before + 2,
            180,
            "the worker processing again after the restart",
            [w],
        )
        producer.join_ok(240)
        phase.mark("all produced")
        ends = end_offsets(broker.bootstrap, topic)
        wait_committed(broker.bootstrap, group, topic, ends, [w], timeout=240)
        phase.mark("all committed")
        code = w.stop()
        counts = json.loads(w.counts_file.read_text())
        led = ledger(warehouse, [Incarnation("r1", False, counts)], len(lines))
        dead = landed_dead_letters(warehouse)
        status = judged(latest_status(warehouse))
        # the marts build in the background (dbt ~30 s) while the other faults run; the broker
        # is not needed any more
        build = MartBuild(warehouse)
        run = BrokerRun(
            warehouse,
            pid,
            counts["pid"],
            code,
            counts,
            sum(ends.values()),
            batches_before,
            sent_before,
            sent_during,
            led,
            dead,
            status,
            build,
            dict(broker.timings),
            phase,
        )
        run.figures = {
            **led.figures(),
            "broker_s": {k: round(v, 1) for k, v in broker.timings.items()},
            "down_s": DOWN_S,
            "sent_while_stopping_or_down": sent_during,
            "phases_s": phase.marks,
        }
        print(f"\nbroker restart figures: {json.dumps(run.figures)}")
    finally:
        if worker is not None and worker.alive():
            worker.kill()
        try:
            broker.stop()
        except BaseException as exc:  # pytest.fail inside a finalizer must not hide the result
            print(f"could not stop the test broker: {exc}")
    yield run
    build.close()


def test_broker_restart_mid_stream_loses_and_doubles_nothing(
    broker_run: BrokerRun, clean_run: Any, fault_city: FaultCity
) -> None:
    """Fault 2. The producer and the same worker process survive a broker restart: every line
    written once, every event judged once -- counts, landing and verdicts equal the clean run's."""
    run, clean = broker_run, clean_run
    lines = fault_city.lines
    assert run.worker_pid_after == run.worker_pid_before and run.exit_code == 0  # survived, no crash/restart
    assert run.counts["status"] == "stopped" and run.counts["internal_errors"] == 0
    assert run.counts.get("skipped_records", 0) == 0, run.counts  # no hole in what reached the agent
    assert run.end_total == len(lines)  # idempotent producer: retries wrote nothing twice
    c = run.counts
    assert c["read"] == c["applied"] + c["duplicate"] + c["stale"] + c["dead_lettered"]
    # one incarnation, no crash: every batch completed, so re-deliveries (uncommitted offsets
    # when the group coordinator went away) can only come out as duplicates or stale again --
    # the applied count is exactly the clean run's, every event landed exactly once
    assert c["read"] == len(lines) + run.ledger.redelivered
    assert c["applied"] == clean.total["applied"]
    assert c["dead_lettered"] >= clean.total["dead_lettered"]
    assert c["duplicate"] + c["stale"] == clean.total["duplicate"] + clean.total["stale"] + (
        run.ledger.redelivered - (c["dead_lettered"] - clean.total["dead_lettered"])
    )
    assert run.ledger.rows == run.ledger.distinct == len(clean.ids) and not run.ledger.doubled
    assert len({(r.partition, r.offset) for r in run.dead_letters}) == clean.total["dead_lettered"], dead_letter_report(
        run.dead_letters, fault_city.bad_lines()
    )
    assert run.judged == judged(latest_status(clean.warehouse))
    print(f"\nbroker restart: {json.dumps(run.figures)}")


def test_marts_equal_the_clean_run_after_broker_restart(broker_run: BrokerRun, clean_run: Any) -> None:
    """Fault 2: the built marts are the clean run's, row for row."""
    assert mart_differences(broker_run.marts(), clean_run.marts()) == []
    print(f"\nbroker run marts ready {broker_run.build.elapsed:.0f} s after the build started (in the background)")
