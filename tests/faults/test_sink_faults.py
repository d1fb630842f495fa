"""The landing sink failing mid-write: a disk that fills up under the Faust worker, and an
injected write error under the embedded driver.

What must hold (streams/landing.py, streams/worker_runtime.py, streams/embedded.py):

- a reader never sees a partial file or a partial batch: files are written under hidden
  temporary names and renamed only when the whole batch is written; a failed batch's temporary
  files are removed;
- nothing is acknowledged that was not landed: the worker stops (exit 70, "stopping without
  committing") and the group's committed offsets stay within what was landed; the embedded driver
  rolls its run back (its landed files removed, state/ untouched) and raises;
- given space again, a restart (or a rerun) completes and equals the clean run, every applied
  event landed exactly once.

The full disk is real: a small tmpfs mounted over the worker's landing folder (this suite runs as
root). If mounting is not permitted the test falls back to RLIMIT_FSIZE on the worker (EFBIG for a
file above the limit) rather than skipping.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import (
    WorkerProcess,
    caught_up,
    embedded_reference,
    end_offsets,
    judged,
    kafka_settings,
    landed_count,
    landed_event_ids,
    latest_status,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
from faults import LANDING_AFTER, install_landing_fault  # noqa: E402

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COUNTS = ("read", "applied", "duplicate", "stale", "dead_lettered")
WORKER_ARGS = ["--no-gx"]  # GX is orthogonal to the sink and slow on 2 cores; references match
SMALL_KB = 160  # a batch of 200 events lands ~45 KB: the disk fills on the 3rd or 4th batch


def _city(seed: int = 31) -> Any:
    from ingestion.synthetic import generate_city

    return generate_city(seed=seed, schools=60, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02)


def _landing_files(landing: Path) -> tuple[list[Path], list[Path]]:
    """(visible Parquet files, everything else: temporaries, leftovers) under `landing`."""
    every = [p for p in landing.rglob("*") if p.is_file()]
    visible = [p for p in every if p.suffix == ".parquet" and not p.name.startswith(".")]
    return visible, [p for p in every if p not in visible]


def _assert_landing_is_whole(landing: Path) -> list[Path]:
    """No partial file: nothing but complete Parquet files, each readable to its last row."""
    visible, other = _landing_files(landing)
    assert other == [], f"left behind: {other}"
    for path in visible:
        assert pq.read_table(path).num_rows > 0, path
    return visible


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sink-fault-offsets")
    try:
        got = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return {tp.partition: om.offset for tp, om in got.items() if tp.topic == topic}


class SmallDisk:
    """A tmpfs of `kb` KiB mounted at `path` (made if missing), unmounted by close()."""

    def __init__(self, path: Path, kb: int) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kb}k", "tmpfs", str(path)], capture_output=True, text=True
        )
        self.mounted = done.returncode == 0
        self.error = done.stderr.strip()

    def grow(self, mb: int) -> None:
        """Give it space, keeping the files already landed (remount in place)."""
        subprocess.run(["mount", "-o", f"remount,size={mb}m", str(self.path)], check=True)

    def close(self) -> None:
        if self.mounted:
            if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.path)], check=False)  # still busy: detach
            self.mounted = False


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "kafka-warehouse" / "landing", SMALL_KB)
    try:
        yield disk
    finally:
        disk.close()


def test_full_disk_under_the_worker_loses_nothing_and_lands_nothing_twice(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, small_disk: SmallDisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.producer import create_topics, produce_lines

    t0 = time.monotonic()
    lines = _city().lines
    reference = embedded_reference(lines, tmp_path / "embedded", gx=False)
    ref = reference["counts"]
    ref_ids = sorted(landed_event_ids(reference["warehouse"]))

    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=4).values()) == {"created"}
    assert produce_lines(lines, settings)["failed"] == 0
    topic = settings.topic("events")
    ends = end_offsets(kafka_bootstrap, topic)
    warehouse = tmp_path / "kafka-warehouse"
    landing = warehouse / "landing"

    if small_disk.mounted:
        fault, expect_error = f"tmpfs of {SMALL_KB} KiB on {landing}", "No space left on device"
    else:  # no mount permission: a file-size limit on the worker gives EFBIG the same way
        print(f"\nmount not permitted ({small_disk.error}); using RLIMIT_FSIZE instead")
        limit = 40 * 1024
        fault, expect_error = f"RLIMIT_FSIZE {limit} B", "File too large"
        real_popen = subprocess.Popen

        def limited_popen(*args: Any, **kwargs: Any) -> Any:
            kwargs["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            return real_popen(*args, **kwargs)

        monkeypatch.setattr(subprocess, "Popen", limited_popen)

    # 1. the disk fills mid-run: the worker stops without committing the batch it could not land
    w1 = WorkerProcess(
        kafka_bootstrap,
        prefix,
        warehouse,
        tmp_path / "worker1.log",
        batch_size=200,
        counts_file=tmp_path / "counts1.json",
        worker_id="w1",
        session_timeout=8,
        extra_args=WORKER_ARGS,
    )
    try:
        code = w1.proc.wait(150)
    finally:
        w1.kill()
    monkeypatch.undo()
    log = w1.log_tail(100_000)
    assert code == 70, log[-5000:]
    assert "stopping without committing" in log and expect_error in log, log[-5000:]
    crashed = w1.counts()
    assert crashed is not None and crashed["status"] == "crashed"
    assert 0 < crashed["batches"] and crashed["read"] < len(lines), crashed  # it failed mid-run

    # no partial file, and exactly the batches it counted are landed: the failed one not at all
    _assert_landing_is_whole(landing)
    landed_ids = landed_event_ids(warehouse)
    assert len(landed_ids) == len(set(landed_ids)) == crashed["applied"] > 0
    assert landed_count(warehouse, "dead_letters") == crashed["dead_lettered"]
    # nothing committed beyond what was landed, and the failed batch is not committed
    committed = _committed(kafka_bootstrap, f"{prefix}-worker", topic)
    done = {int(k.rsplit(":", 1)[1]): v for k, v in crashed["last_offsets"].items()}
    for partition, offset in committed.items():
        assert offset <= done.get(partition, -1) + 1, (partition, offset, done)
    assert sum(max(o, 0) for o in committed.values()) < sum(ends.values())

    # 2. space again, files kept; a new worker completes the run
    if small_disk.mounted:
        small_disk.grow(64)
    with WorkerProcess(
        kafka_bootstrap,
        prefix,
        warehouse,
        tmp_path / "worker2.log",
        batch_size=200,
        counts_file=tmp_path / "counts2.json",
        worker_id="w2",
        session_timeout=8,
        extra_args=WORKER_ARGS,
    ) as w2:
        w2.wait_for(lambda c: caught_up(c, topic, ends), timeout=150, what="the rest of the stream")
        assert w2.stop() == 0, w2.log_tail()
    resumed = json.loads(w2.counts_file.read_text(encoding="utf-8"))
    assert resumed["internal_errors"] == 0

    # equal to the clean run, nothing applied or landed twice, nothing lost
    assert crashed["applied"] + resumed["applied"] == ref["applied"]
    assert sorted(landed_event_ids(warehouse)) == ref_ids
    assert judged(latest_status(warehouse)) == judged(latest_status(reference["warehouse"]))
    _assert_landing_is_whole(landing)
    # re-delivered (landed, not yet committed) messages come back as duplicates, never applied
    redelivered = crashed["read"] + resumed["read"] - len(lines)
    assert 0 <= redelivered and resumed["duplicate"] >= ref["duplicate"]
    print(
        f"\nfault: {fault}; w1 landed {crashed['batches']} batches ({crashed['applied']} events) "
        f"then exit 70; re-delivered {redelivered}; test {time.monotonic() - t0:.1f} s"
    )


def test_injected_write_error_stops_the_worker_and_a_restart_completes(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same failure at an exact point: JUNHENG_FAULT_LANDING_AFTER=6 makes the worker's 7th
    landing file fail part-way (the second or third batch, depending on how many tables a batch
    fills); the worker must stop with nothing of that batch visible, and a worker without the
    fault must complete the run to the clean result."""
    from ingestion.producer import create_topics, produce_lines

    lines = _city(seed=43).lines
    reference = embedded_reference(lines, tmp_path / "embedded", gx=False)
    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=4).values()) == {"created"}
    assert produce_lines(lines, settings)["failed"] == 0
    topic = settings.topic("events")
    ends = end_offsets(kafka_bootstrap, topic)
    warehouse = tmp_path / "kafka-warehouse"

    monkeypatch.setenv(LANDING_AFTER, "6")  # the worker subprocess's plugin (tests/plugins) reads it
    w1 = WorkerProcess(
        kafka_bootstrap,
        prefix,
        warehouse,
        tmp_path / "worker1.log",
        batch_size=200,
        counts_file=tmp_path / "counts1.json",
        worker_id="w1",
        session_timeout=8,
        extra_args=WORKER_ARGS,
    )
    monkeypatch.delenv(LANDING_AFTER)
    try:
        code = w1.proc.wait(150)
    finally:
        w1.kill()
    log = w1.log_tail(100_000)
    assert code == 70 and "stopping without committing" in log and f"injected: {LANDING_AFTER}=6" in log, log[-5000:]
    crashed = w1.counts()
    assert crashed is not None and crashed["status"] == "crashed" and 1 <= crashed["batches"] <= 2
    visible = _assert_landing_is_whole(warehouse / "landing")
    assert len({p.name.split("-")[1] for p in visible if p.parent.name != "alert_events"}) == crashed["batches"]
    assert len(landed_event_ids(warehouse)) == crashed["applied"]
    # at least once in the crash path: nothing committed beyond the batches landed, i.e. at
    # most the first offset of the failed batch on each partition (w1 never rebalanced)
    committed = _committed(kafka_bootstrap, f"{prefix}-worker", topic)
    done = {int(k.rsplit(":", 1)[1]): v for k, v in crashed["last_offsets"].items()}
    for partition, offset in committed.items():
        assert offset <= done.get(partition, -1) + 1, (partition, offset, done)

    with WorkerProcess(
        kafka_bootstrap,
        prefix,
        warehouse,
        tmp_path / "worker2.log",
        batch_size=200,
        counts_file=tmp_path / "counts2.json",
        worker_id="w2",
        session_timeout=8,
        extra_args=WORKER_ARGS,
    ) as w2:
        w2.wait_for(lambda c: caught_up(c, topic, ends), timeout=150, what="the rest of the stream")
        assert w2.stop() == 0, w2.log_tail()
    resumed = json.loads(w2.counts_file.read_text(encoding="utf-8"))
    # w2 read every message w1 had not committed. It once skipped ~80 of them: recovery's seek
    # raced the fetcher (streams.faust_patches.hold_flow_while_seeking), so applied came up 84 short
    uncommitted = sum(ends.values()) - sum(max(o, 0) for o in committed.values())
    assert resumed["read"] >= uncommitted, (resumed["read"], uncommitted, committed, resumed["last_offsets"])
    assert crashed["applied"] + resumed["applied"] == reference["counts"]["applied"]
    assert sorted(landed_event_ids(warehouse)) == sorted(landed_event_ids(reference["warehouse"]))
    assert judged(latest_status(warehouse)) == judged(latest_status(reference["warehouse"]))


def test_injected_write_error_rolls_the_embedded_run_back_and_a_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JUNHENG_FAULT_LANDING_AFTER=N under the embedded driver, on its second run (the first run's
    files and state must survive the failed one untouched)."""
    from streams.embedded import EmbeddedRunner

    lines = _city(seed=37).lines
    half = len(lines) // 2
    reference = embedded_reference(lines, tmp_path / "reference", gx=False)
    ref = reference["counts"]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"\n".join(lines[:half]) + b"\n")
    second.write_bytes(b"\n".join(lines[half:]) + b"\n")
    warehouse = tmp_path / "warehouse"
    landing = warehouse / "landing"

    one = EmbeddedRunner(warehouse, batch_size=200).run([first])
    before_files = {p: p.read_bytes() for p in _assert_landing_is_whole(landing)}
    before_state = {p: p.read_bytes() for p in (warehouse / "state").glob("*")}
    assert before_files and before_state

    # 9 files into the second run = the middle of its third batch (4 tables per batch)
    with monkeypatch.context() as patched:
        install_landing_fault(9, patched.setattr)
        faulty = EmbeddedRunner(warehouse, batch_size=200)
        with pytest.raises(OSError, match="No space left on device") as failure:
            faulty.run([second])
    assert LANDING_AFTER in str(failure.value)
    assert faulty.landing._files_started == 10  # it did fail part-way, after landing two batches
    # rolled back: exactly the first run's files and state, byte for byte, no temporaries
    assert {p: p.read_bytes() for p in _assert_landing_is_whole(landing)} == before_files
    assert {p: p.read_bytes() for p in (warehouse / "state").glob("*")} == before_state

    two = EmbeddedRunner(warehouse, batch_size=200).run([second])
    assert {k: one.counts[k] + two.counts[k] for k in COUNTS} == {k: ref[k] for k in COUNTS}
    assert sorted(landed_event_ids(warehouse)) == sorted(landed_event_ids(reference["warehouse"]))
    assert judged(latest_status(warehouse)) == judged(latest_status(reference["warehouse"]))
    _assert_landing_is_whole(landing)


def test_production_code_has_no_fault_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The landing writer never fails by itself, whatever the environment says; the tests' plugin
    (tests/plugins/faults.py) fails it exactly at file N+1 and leaves nothing behind."""
    from streams.landing import LandingWriter

    rows = [{"reason": "x: y", "reason_code": "x", "origin": "{}", "raw": "r"}]
    monkeypatch.setenv(LANDING_AFTER, "0")  # read by the plugin only, and only in a subprocess
    writer = LandingWriter(tmp_path / "a")
    assert all(writer.write("dead_letters", rows, b) for b in range(20))
    with monkeypatch.context() as patched:
        install_landing_fault(2, patched.setattr)
        writer = LandingWriter(tmp_path / "c")
        assert writer.write_batch({"dead_letters": rows, "events": []}, 0)
        with pytest.raises(OSError) as failure:
            writer.write_batch(
                {"dead_letters": rows, "district_status": [{"district_code": "370202", "year": 2024}]}, 1
            )
    assert failure.value.errno == 28  # ENOSPC, as a full disk
    visible, other = _landing_files(tmp_path / "c")
    assert [p.name for p in visible] == [f"part-{0:012d}-{writer.writer_id}.parquet"] and other == []
