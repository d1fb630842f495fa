"""Faults 1, 3 and 4 on the shared broker: SIGKILLed workers, a lost local state store, and
poison/duplicate/stale/reordered input -- the marts must equal the clean run's.

One run, three phases (each fault keeps its own test and assertions):

1. two workers (distinct --worker-id, one consumer group, 4 partitions) consume the head of the
   input while it is produced in paced chunks; they are SIGKILLed alternately (3 kills), each
   right after it finished a batch (its offsets are committed only every 2.8 s, so the batch is
   re-delivered) and restarted, until the group has committed everything;
2. both are SIGKILLed, the worker's local Faust data dir (<warehouse>/worker-data) and any local
   district state (<warehouse>/state) are deleted, one fresh worker takes all partitions and the
   tail is produced: it can only judge the tail right if it rebuilds the states from the changelog;
3. the warehouse is built (dbt) and its marts compared with the clean run's.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import (
    COUNTS,
    SESSION_TIMEOUT_S,
    WORKER_ARGS,
    DeadLetterRow,
    FaultCity,
    Incarnation,
    Ledger,
    MartBuild,
    PacedProducer,
    Phase,
    dead_letter_report,
    landed_dead_letters,
    ledger,
    mart_differences,
    mart_snapshot,
    topic_dead_letters,
    wait_committed,
    wait_until,
)
from pipeline_helpers import (
    WorkerProcess,
    delete_topics,
    end_offsets,
    judged,
    kafka_settings,
    landed_event_ids,
    latest_status,
    read_topic,
    unique_prefix,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KILLS = 3
PARTITIONS = 4


@dataclass
class Kill:
    worker_id: str
    returncode: int
    batches_done: int
    input_pending: bool  # the producer still had input to send: the kill was mid-stream


@dataclass
class KillRun:
    """What the three phases recorded, for the tests to judge."""

    warehouse: Path
    prefix: str
    kills: list[Kill]
    head_incarnations: list[Incarnation]
    head_ledger: Ledger
    head_ids: set[str]
    head_dead_origins: Counter[tuple[int, int]]
    head_dead_letters: list[DeadLetterRow]  # landed after the head, with reasons
    head_judged: dict[Any, Any]
    end_total: int
    datadir_existed: bool
    datadir_files_after: list[str]
    fresh: Incarnation
    fresh_log: str
    changelog: dict[str, Any]
    dead_letter_values: dict[tuple[int, int], bytes]
    dead_letter_topic: list[DeadLetterRow]  # the dead-letter topic, with reasons
    tail_dead_letters: list[DeadLetterRow]  # landed by the fresh worker (the tail)
    build: MartBuild
    phase: Phase
    figures: dict[str, Any] = field(default_factory=dict)

    def marts(self) -> dict[str, Any]:
        return mart_snapshot(Path(self.build.result()["database"]))


def _worker(bootstrap: str, prefix: str, warehouse: Path, tmp: Path, worker_id: str) -> WorkerProcess:
    return WorkerProcess(
        bootstrap,
        prefix,
        warehouse,
        tmp / f"worker-{worker_id}.log",
        counts_file=tmp / f"counts-{worker_id}.json",
        worker_id=worker_id,
        batch_size=200,
        batch_seconds=0.3,
        session_timeout=SESSION_TIMEOUT_S,
        extra_args=WORKER_ARGS,
    )


def _counts(w: WorkerProcess) -> dict[str, Any]:
    c = w.counts()
    return c if c is not None and c.get("pid") == w.proc.pid else {}


@pytest.fixture(scope="session")
def kill_run(
    kafka_bootstrap: str, fault_city: FaultCity, clean_run: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KillRun]:
    from ingestion.producer import create_topics, produce_lines

    tmp = tmp_path_factory.mktemp("kills")
    prefix = unique_prefix()
    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=PARTITIONS).values()) == {"created"}
    topic, group = settings.topic("events"), f"{prefix}-worker"
    warehouse = tmp / "kafka-warehouse"
    phase = Phase()
    workers: list[WorkerProcess] = []
    try:
        # ---------------------------------------------------------------- phase 1: kill -9, x3
        # a1 alone first; b1 joins while a1 consumes a fresh topic (scale-out mid-stream: the
        # rebalance drops a1's fetched, never-committed records, which must be re-read)
        live = {"a": _worker(kafka_bootstrap, prefix, warehouse, tmp, "a1")}
        workers += live.values()
        wait_until(
            lambda: len(_counts(live["a"]).get("assigned", [])) == PARTITIONS, 120, "a1 assigned", list(live.values())
        )
        quarter = len(fault_city.head) // (KILLS + 1)
        producer = PacedProducer(fault_city.head, settings, quota=quarter)
        producer.start()
        live["b"] = _worker(kafka_bootstrap, prefix, warehouse, tmp, "b1")
        workers.append(live["b"])

        def shared() -> bool:
            a, b = (set(_counts(live[x]).get("assigned", [])) for x in "ab")
            return len(a) == len(b) == PARTITIONS // 2 and not a & b

        wait_until(shared, 120, "a1 and b1 sharing the 4 partitions", list(live.values()))
        phase.mark("two workers assigned")
        incarnations: list[Incarnation] = []
        kills: list[Kill] = []
        generation = {"a": 1, "b": 1}
        for k in range(KILLS):
            slot, other = ("a", "b") if k % 2 == 0 else ("b", "a")
            victim = live[slot]
            # both are consuming: each has partitions and has finished a batch since it started
            wait_until(
                lambda victim=victim, other=other: (
                    _counts(victim).get("batches", 0) >= 1 and _counts(live[other]).get("batches", 0) >= 1
                ),
                120,
                f"kill {k + 1}: {slot} and {other} both processing",
                list(live.values()),
            )
            done = _counts(victim)["batches"]
            # kill right after a batch completed: facts written, offsets not yet committed
            wait_until(
                lambda victim=victim, done=done: _counts(victim).get("batches", 0) > done,
                60,
                f"kill {k + 1}: a fresh batch",
                [victim],
            )
            pending = producer.pending()
            victim.kill()
            last = victim.counts() or {}
            kills.append(Kill(f"{slot}{generation[slot]}", victim.proc.returncode, last.get("batches", 0), pending))
            incarnations.append(Incarnation(f"{slot}{generation[slot]}", True, last))
            generation[slot] += 1
            live[slot] = _worker(kafka_bootstrap, prefix, warehouse, tmp, f"{slot}{generation[slot]}")
            workers.append(live[slot])
            producer.allow(quarter)
            phase.mark(f"kill {k + 1}")
        producer.join_ok(180)
        phase.mark("head produced")
        ends = end_offsets(kafka_bootstrap, topic)
        wait_committed(kafka_bootstrap, group, topic, ends, list(live.values()), timeout=180)
        phase.mark("head committed")
        # a replacement started by the last kill may not have written its first counts yet when
        # the survivor has committed everything (a loaded machine: it takes 10 s and more to start)
        wait_until(
            lambda: all(_counts(w) for w in live.values()), 120, "every live worker's counts", list(live.values())
        )
        head_live = [Incarnation(_counts(w)["worker_id"], False, _counts(w)) for w in live.values()]
        head_incarnations = incarnations + head_live
        head_ledger = ledger(warehouse, head_incarnations, len(fault_city.head))
        head_ids = {i.lower() for i in landed_event_ids(warehouse)}
        head_dead_rows = landed_dead_letters(warehouse)
        head_dead = Counter((r.partition, r.offset) for r in head_dead_rows)
        head_judged = judged(latest_status(warehouse))

        # ---------------------------------------------------------------- phase 2: lose the local state
        for w in live.values():
            w.kill()
            incarnations_tail = w.counts() or {}
            # nothing was in flight (all committed): their counts are the head_live counts
            assert {k: incarnations_tail.get(k) for k in COUNTS} == {
                k: next(i for i in head_live if i.worker_id == incarnations_tail.get("worker_id")).counts[k]
                for k in COUNTS
            }
        datadir = warehouse / "worker-data"
        datadir_existed = datadir.is_dir()
        shutil.rmtree(datadir, ignore_errors=True)
        shutil.rmtree(warehouse / "state", ignore_errors=True)  # the embedded driver's; none here
        fresh = _worker(kafka_bootstrap, prefix, warehouse, tmp, "c1")
        workers.append(fresh)
        wait_until(
            lambda: len(_counts(fresh).get("assigned", [])) == PARTITIONS,
            120,
            "the fresh worker owning all partitions (the dead ones' sessions expired)",
            [fresh],
        )
        phase.mark("fresh worker assigned")
        datadir_files_after = [str(p.relative_to(datadir)) for p in datadir.rglob("*") if p.is_file()]
        produced = produce_lines(fault_city.tail, settings)
        assert produced["sent"] == len(fault_city.tail)
        ends = end_offsets(kafka_bootstrap, topic)
        wait_committed(kafka_bootstrap, group, topic, ends, [fresh], timeout=120)
        assert fresh.stop() == 0, fresh.log_tail()
        phase.mark("tail committed")
        fresh_counts = json.loads(fresh.counts_file.read_text())

        changelog: dict[str, Any] = {}
        for m in read_topic(kafka_bootstrap, f"{group}-facts-changelog", timeout=60):
            changelog[json.loads(m.key)] = None if m.value is None else json.loads(m.value)  # type: ignore[arg-type]
        dead_values: dict[tuple[int, int], bytes] = {}
        dead_messages = read_topic(kafka_bootstrap, settings.topic("dead-letters"), timeout=60)
        for m in dead_messages:
            origin = json.loads(m.headers["origin"])
            dead_values[(origin["partition"], origin["offset"])] = m.value or b""
        tail_dead_rows = [r for r in landed_dead_letters(warehouse) if r.writer == "c1"]

        # ---------------------------------------------------------------- phase 3: the marts
        build = MartBuild(warehouse)  # in the background (dbt ~30 s); compared at the end
        run = KillRun(
            warehouse,
            prefix,
            kills,
            head_incarnations,
            head_ledger,
            head_ids,
            head_dead,
            head_dead_rows,
            head_judged,
            sum(ends.values()),
            datadir_existed,
            datadir_files_after,
            Incarnation("c1", False, fresh_counts),
            fresh.log_tail(400),
            changelog,
            dead_values,
            topic_dead_letters(dead_messages),
            tail_dead_rows,
            build,
            phase,
        )
        run.figures = {
            "kills": len(kills),
            "incarnations": len(head_incarnations) + 1,
            **head_ledger.figures(),
            "phases_s": phase.marks,
            "rebuilds": {
                i.worker_id: (i.counts.get("state_rebuilds"), i.counts.get("state_rebuild_s"))
                for i in head_incarnations + [run.fresh]
            },
        }
        print(f"\nkill run figures: {json.dumps(run.figures, default=str)}")
    finally:
        for w in workers:
            if w.alive():
                w.kill()
        try:
            delete_topics(kafka_bootstrap, prefix)
        except Exception as exc:
            print(f"could not delete topics of {prefix}: {exc}")
    yield run
    build.close()


def test_sigkill_two_workers_mid_stream(kill_run: KillRun, clean_run: Any, fault_city: FaultCity) -> None:
    """Fault 1. Three SIGKILLs, alternating between two workers of one group, each while input
    was still arriving: nothing lost, nothing applied twice, every re-delivery accounted for."""
    run, head = kill_run, clean_run.head
    # the fault happened as specified
    assert len(run.kills) >= 3
    assert all(k.returncode == -9 for k in run.kills), run.kills
    assert [k.worker_id[0] for k in run.kills] == ["a", "b", "a"][: len(run.kills)]
    assert all(k.input_pending and k.batches_done >= 1 for k in run.kills), run.kills
    assert run.end_total == len(fault_city.lines)  # the producer wrote every line once
    # every incarnation's counts add up, and no record hit an internal error
    for inc in run.head_incarnations:
        c = inc.counts
        assert c["read"] == c["applied"] + c["duplicate"] + c["stale"] + c["dead_lettered"], inc
        assert c["internal_errors"] == 0, inc
        # every partition's records reached the agent without a hole (StreamRuntime._note_offsets)
        assert c.get("skipped_records", 0) == 0, (
            inc,
            dead_letter_report(run.head_dead_letters, fault_city.bad_lines("head")),
        )
    # the workers that took over partitions rebuilt their states from the changelog
    takers = [i for i in run.head_incarnations if i.worker_id[1:] != "1" and i.counts["batches"] > 0]
    assert takers and all(i.counts["state_rebuilds"] > 0 for i in takers), [(i.worker_id, i.counts) for i in takers]

    led = run.head_ledger
    # re-deliveries happened (a kill right after a batch, before the 2.8 s commit) and are all
    # accounted for: sum(read) over incarnations = lines + re-deliveries, and every
    # re-delivered event came out as duplicate/stale again, or was re-applied because its
    # first application died with the batch (rows in a killed worker's last batch)
    assert led.redelivered > 0, led.figures()
    assert led.totals["read"] == len(fault_city.head) + led.redelivered
    # no event counted applied twice: the applied counts never exceed the clean run's, and what
    # is missing from them was applied in a batch that died with its worker
    assert led.totals["applied"] <= head["applied"], led.figures()
    assert led.totals["applied"] >= head["applied"] - led.crash_rows, led.figures()
    assert led.totals["dead_lettered"] >= head["dead_lettered"], dead_letter_report(
        run.head_dead_letters, fault_city.bad_lines("head")
    )
    # every applied event landed, exactly the clean run's set; a second row only where a crash
    # explains it (and then identical)
    assert led.distinct == len(run.head_ids) == head["applied"]
    assert run.head_ids == clean_run.head_ids
    assert not led.unexplained, led.unexplained
    # every bad line dead-lettered (re-deliveries may land one twice, with the same origin)
    assert len(run.head_dead_origins) == head["dead_lettered"], dead_letter_report(
        run.head_dead_letters, fault_city.bad_lines("head")
    )
    # the same verdicts as the clean run after the same input
    assert run.head_judged == clean_run.head_judged
    print(f"\nSIGKILL x{len(run.kills)}: {json.dumps(run.figures, default=str)}")


def test_lost_state_store_is_rebuilt_from_the_changelog(
    kill_run: KillRun, clean_run: Any, fault_city: FaultCity
) -> None:
    """Fault 3. Both workers killed, the local Faust data dir deleted: a fresh worker must
    rebuild every district from the facts changelog -- the tail's re-sent head events are
    duplicates, its lower-seq versions stale and its school facts applied (their schools were
    registered in the head) exactly as in the clean run; the rebuilt states equal the clean ones."""
    from rules import load_catalogue
    from rules.state import Engine
    from streams.table_states import TableStates

    run = kill_run
    assert run.datadir_existed
    assert run.datadir_files_after == []  # the table store is memory://
    c = run.fresh.counts
    assert c["status"] == "stopped" and c["internal_errors"] == 0 and c.get("skipped_records", 0) == 0
    assert c["read"] == len(fault_city.tail)  # everything before was committed
    report = dead_letter_report(run.tail_dead_letters, fault_city.bad_lines("tail"))
    assert {k: c[k] for k in COUNTS} == {k: clean_run.tail[k] for k in COUNTS}, report
    assert c["dead_letter_reasons"] == clean_run.tail["dead_letter_reasons"], report
    assert c["duplicate"] >= 20 and c["stale"] >= 10  # the re-sent head events
    assert c["state_rebuilds"] >= len(clean_run.states)  # every district, from the changelog
    assert "state rebuilt from" in run.fresh_log

    # the states the changelog rebuilds are the clean run's, fact for fact and version for version
    engine = Engine(load_catalogue())
    table = {k: v for k, v in run.changelog.items() if v is not None}
    states = TableStates(engine, table)
    for code, clean in clean_run.states.items():
        rebuilt = states.get(code)
        assert rebuilt is not None, code
        assert _normal_state(rebuilt.to_state()) == _normal_state(clean), code
    print(
        f"\nlost state store: {c['state_rebuilds']} districts rebuilt in {c['state_rebuild_s']} s; "
        f"tail {json.dumps({k: c[k] for k in COUNTS})}"
    )


def _normal_state(state: dict[str, Any]) -> Any:
    """A state as plain JSON, with the order of each fact's seen ids ignored (the order in which
    re-delivered stale versions were seen is transport-dependent; the set is not)."""
    plain = json.loads(json.dumps(state, sort_keys=True))
    plain["versions"] = {k: [v[0], v[1].lower(), sorted(x.lower() for x in v[2])] for k, v in plain["versions"].items()}
    return plain


def test_marts_equal_the_clean_run_after_kills_and_state_loss(kill_run: KillRun, clean_run: Any) -> None:
    """Faults 1 and 3 together: the built marts are the clean run's, row for row."""
    assert mart_differences(kill_run.marts(), clean_run.marts()) == []
    assert {i.lower() for i in landed_event_ids(kill_run.warehouse)} == clean_run.ids
    assert sum(len(v) for v in kill_run.marts().values()) > 0
    print(f"\nkill run marts ready {kill_run.build.elapsed:.0f} s after the build started (in the background)")


def test_poison_duplicates_stale_and_reordering_are_accounted_for(
    kill_run: KillRun, clean_run: Any, fault_city: FaultCity
) -> None:
    """Fault 4 through the kills. The dead-letter topic holds every bad line byte for byte (once
    per source offset), the drafts moved behind their corrections were never applied, and re-sent
    events were never landed twice outside a crashed batch."""
    assert fault_city.swapped > 0 and fault_city.poison >= 5
    assert Counter(kill_run.dead_letter_values.values()) == fault_city.bad_lines(), dead_letter_report(
        kill_run.dead_letter_topic, fault_city.bad_lines()
    )
    swapped = {
        json.loads(line)["event_id"].lower()
        for line, label in zip(fault_city.lines, fault_city.labels)
        if label in ("swapped", "stale-resend")
    }
    assert swapped and not swapped & clean_run.ids
    assert not swapped & {i.lower() for i in landed_event_ids(kill_run.warehouse)}
    # 64 KiB+ lines and non-UTF-8 bytes went through untouched
    assert any(len(v) > 64 * 1024 for v in kill_run.dead_letter_values.values())
    assert any(v.startswith(b"\xff\xfe") for v in kill_run.dead_letter_values.values())
