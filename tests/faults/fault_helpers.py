"""Helpers for the fault-injection suite (tests/faults): the faulted input, a paced producer, a
second broker to restart, committed offsets, the landing ledger and the marts comparison.

Everything here compares a faulted Kafka run with a *clean* run of the embedded driver on the
same lines (pipeline_helpers.embedded_reference): the marts must be equal and every event must
be accounted for. See docs/reliability.md for what each test proves.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import PROJECT_ROOT, WorkerProcess

AS_OF = "2026-11-28"
KAFKA_SH = PROJECT_ROOT / "infra" / "kafka" / "kafka.sh"
#: worker options of the suite: no GX (orthogonal to delivery, and ~2 s per micro-batch on this
#: machine; the clean run is built without it too), small batches so a kill can land mid-batch;
#: every dead letter's reason in the worker's log.
WORKER_ARGS = ("--no-gx", "--log-dead-letters")
SESSION_TIMEOUT_S = 6.0  # the broker's group.min.session.timeout.ms
COUNTS = ("read", "applied", "duplicate", "stale", "dead_lettered")
_PART = re.compile(r"^part-(\d+)-(.+)\.parquet$")


# --------------------------------------------------------------------------- the faulted input
@dataclass
class FaultCity:
    """The suite's input. `head` goes in while faults are injected, `tail` afterwards (the
    lost-state-store fault); `labels[i]` says what line i of head+tail is (valid, duplicate,
    stale, bad:<reason>, poison:<kind>, swapped, resend, stale-resend)."""

    head: list[bytes]
    tail: list[bytes]
    labels: list[str]
    swapped: int  # lower-seq versions moved after their higher-seq version
    poison: int  # explicit poison lines added to the generator's bad lines

    @property
    def lines(self) -> list[bytes]:
        return self.head + self.tail

    def bad_lines(self, part: str = "all") -> Counter[bytes]:
        """Every line the platform must dead-letter, with multiplicity (of the "head", the
        "tail" or "all")."""
        lines, labels = {
            "all": (self.lines, self.labels),
            "head": (self.head, self.labels[: len(self.head)]),
            "tail": (self.tail, self.labels[len(self.head) :]),
        }[part]
        return Counter(line for line, label in zip(lines, labels) if label.startswith(("bad:", "poison:")))


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("district_code"), str) else None


def _fact_key(event: dict[str, Any]) -> str | None:
    from rules.facts import fact_key_str

    try:
        return fact_key_str(event)
    except (KeyError, TypeError, IndexError):
        return None


def reorder(lines: Sequence[bytes], labels: Sequence[str], rng: random.Random) -> tuple[list[bytes], list[str], int]:
    """Reorder without changing what the input *means* where only order could decide it.

    - Across districts the order is shuffled freely (a random merge of the per-district
      sequences): districts live in different partitions and never see each other's events.
    - Within a district the order is kept, except that for every yearly fact sent in two
      versions (a draft, then a correction with a higher seq) the lower-seq draft is moved to
      right after the correction: the late lower seq must come out *stale*, whatever the
      transport does. Registrations are not swapped (a school fact before its school's
      registration would be dead-lettered: that would change the input, not its order).
    Lines that are not a JSON object with a district (poison) form their own sequence.
    Returns (lines, labels, number of drafts moved).
    """
    groups: dict[str, list[tuple[bytes, str]]] = defaultdict(list)
    for line, label in zip(lines, labels):
        ev = _event(line)
        groups[ev["district_code"] if ev else "?"].append((line, label))
    swapped = 0
    for code, items in groups.items():
        if code == "?":
            continue
        versions: dict[str, list[tuple[int, int]]] = defaultdict(list)  # fact -> [(seq, index)]
        for i, (line, label) in enumerate(items):
            ev = _event(line)
            # a duplicate of a draft (same event id) must move with it, or it would apply the draft
            if label not in ("valid", "duplicate") or ev is None or ev.get("event_type", "").endswith("registered"):
                continue
            key = _fact_key(ev)
            if key is not None and isinstance(ev.get("seq"), int):
                versions[key].append((ev["seq"], i))
        moves: dict[int, int] = {}  # index of a draft -> index of the correction it goes after
        for vs in versions.values():
            if len(vs) < 2:
                continue
            top_seq, top_i = max(vs)
            for seq, i in vs:
                if seq < top_seq and i < top_i:
                    moves[i] = top_i
        if moves:
            after: dict[int, list[tuple[bytes, str]]] = defaultdict(list)
            for i, target in sorted(moves.items()):
                after[target].append((items[i][0], "swapped"))
            out: list[tuple[bytes, str]] = []
            for i, item in enumerate(items):
                if i in moves:
                    continue
                out.append(item)
                out.extend(after.get(i, ()))
            swapped += len(moves)
            groups[code] = out
    # random merge: each step takes the next line of a district chosen by its remaining length
    queues = {k: list(reversed(v)) for k, v in groups.items()}
    merged: list[tuple[bytes, str]] = []
    while queues:
        keys = sorted(queues)
        k = rng.choices(keys, [len(queues[x]) for x in keys])[0]
        merged.append(queues[k].pop())
        if not queues[k]:
            del queues[k]
    return [m[0] for m in merged], [m[1] for m in merged], swapped


def poison_lines(template: dict[str, Any], rng: random.Random) -> list[tuple[bytes, str]]:
    """Poison beyond the generator's bad lines, one of each kind the brief names: not JSON,
    invalid UTF-8, wrong types, not an object, and oversized (> 64 KiB, < Kafka's 1 MiB)."""
    from ingestion.synthetic.events import new_event_id

    def variant(**changes: Any) -> dict[str, Any]:
        ev = json.loads(json.dumps(template))
        ev["event_id"] = new_event_id(rng)
        ev.update(changes)
        return ev

    big = json.dumps(variant(), ensure_ascii=False).encode()
    return [
        (b'{"event_id": "0f0e", "event_type": ', "poison:not_json"),
        (b"\xff\xfe\x00\x9c not utf-8 \xc3\x28", "poison:not_json"),
        (json.dumps(variant(year="2024")).encode(), "poison:wrong_type"),
        (json.dumps(variant(seq="1")).encode(), "poison:wrong_type"),
        (json.dumps([variant()]).encode(), "poison:not_object"),
        (big[:-1] + b" " * (200 * 1024) + b"}", "poison:oversized"),
    ]


def build_fault_city(seed: int = 7, schools: int = 120, tail_share: float = 0.15) -> FaultCity:
    """A small synthetic city (2 % bad, duplicate and stale lines), reordered, with explicit
    poison, split into head and tail. The tail also re-sends head events (exact duplicates)
    and sends lower-seq versions of head facts with new ids (stale): after the worker lost its
    local state, both are recognised only if it rebuilt the district states from the changelog."""
    from ingestion.synthetic import generate_city
    from ingestion.synthetic.events import new_event_id

    rng = random.Random(seed)
    city = generate_city(seed=seed, schools=schools, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02)
    labels = [city.labels.get(i, "valid") for i in range(len(city.lines))]
    lines, labels, swapped = reorder(city.lines, labels, rng)
    template = next(e for e in map(_event, lines) if e and e.get("event_type") == "school.staff")
    extra = poison_lines(template, rng)
    for line, label in extra:
        at = rng.randrange(len(lines))
        lines.insert(at, line)
        labels.insert(at, label)
    cut = int(len(lines) * (1 - tail_share))
    head, tail = lines[:cut], lines[cut:]
    head_labels, tail_labels = labels[:cut], labels[cut:]
    # re-sends into the tail: exact duplicates of head events, and lower-seq versions (new ids)
    # of head facts whose applied version has seq >= 1 (the corrections)
    valid_head = [
        (line, ev)
        for line, label in zip(head, head_labels)
        if label == "valid"
        for ev in [_event(line)]
        if ev is not None
    ]
    resends: list[tuple[bytes, str]] = [(line, "resend") for line, _ in rng.sample(valid_head, 20)]
    corrected = [
        ev
        for _, ev in valid_head
        if isinstance(ev.get("seq"), int) and ev["seq"] >= 1 and not ev["event_type"].endswith("registered")
    ]
    for ev in rng.sample(corrected, min(10, len(corrected))):
        old = dict(ev, event_id=new_event_id(rng), seq=ev["seq"] - 1)
        resends.append((json.dumps(old, ensure_ascii=False).encode(), "stale-resend"))
    for line, label in resends:
        at = rng.randrange(len(tail) + 1)
        tail.insert(at, line)
        tail_labels.insert(at, label)
    return FaultCity(head, tail, head_labels + tail_labels, swapped, len(extra))


# --------------------------------------------------------------------------- producing
class PacedProducer(threading.Thread):
    """Sends lines a little at a time, so faults hit a stream in motion.

    Every `tick_s` it sends up to `fast` lines while under its quota (raised by the test with
    `allow(n)` after each fault), else a trickle of `slow` lines, so the workers are never idle
    while faults are being injected; `reserve` lines wait for `release()` (set by the test once
    its faults are injected), so every fault provably happens while input is still arriving.
    One idempotent producer for every send: its retries must survive a broker restart without
    writing anything twice."""

    def __init__(
        self,
        lines: Sequence[bytes],
        settings: Any,
        *,
        tick_s: float = 0.4,
        fast: int = 60,
        slow: int = 4,
        quota: int | None = None,
        reserve: int = 100,
    ) -> None:
        super().__init__(daemon=True, name="paced-producer")
        self.lines = list(lines)
        self.settings = settings
        self.tick_s, self.fast, self.slow = tick_s, fast, slow
        self.quota = len(self.lines) if quota is None else quota
        self.reserve = reserve
        self.released = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._lock = threading.Lock()

    def allow(self, n: int) -> None:
        with self._lock:
            self.quota += n

    def release(self) -> None:
        self.released.set()

    def run(self) -> None:
        from ingestion.producer import make_producer, produce_lines

        producer = make_producer(self.settings, client_id="fault-producer")
        try:
            i, total = 0, len(self.lines)
            while i < total:
                if self.released.is_set():
                    n = 500
                else:
                    with self._lock:
                        n = min(self.fast, self.quota - i) if i < self.quota else self.slow
                    n = max(0, min(n, total - self.reserve - i))
                if n:
                    result = produce_lines(self.lines[i : i + n], self.settings, producer=producer)
                    self.sent += result["sent"]
                    i += n
                if not self.released.is_set():
                    self.released.wait(self.tick_s)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            producer.close(timeout=30)
            self.finished.set()

    def pending(self) -> bool:
        """Input is still to come (the fault happens mid-stream)."""
        return not self.finished.is_set() and self.sent < len(self.lines)

    def join_ok(self, timeout: float) -> None:
        self.release()
        self.join(timeout)
        if self.is_alive():
            pytest.fail(
                f"producer did not finish within {timeout}s ({self.sent} of {len(self.lines)} sent)", pytrace=False
            )
        if self.error is not None:
            pytest.fail(f"producer failed after {self.sent} lines: {self.error!r}", pytrace=False)
        assert self.sent == len(self.lines)


# --------------------------------------------------------------------------- offsets
def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The consumer group's committed offset per partition of `topic` (-1 if none)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="fault-offsets")
    try:
        got = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return {tp.partition: om.offset for tp, om in got.items() if tp.topic == topic}


def wait_committed(
    bootstrap: str, group: str, topic: str, ends: dict[int, int], workers: Sequence[WorkerProcess], timeout: float
) -> float:
    """Wait until the group committed every partition up to `ends`: the input is consumed,
    processed and acknowledged. Fails (with the workers' logs) on timeout or if a worker died."""
    start = time.monotonic()
    last: dict[int, int] = {}
    while time.monotonic() - start < timeout:
        for w in workers:
            if not w.alive():
                pytest.fail(f"worker {w.proc.pid} exited with {w.proc.returncode}\n{w.log_tail()}", pytrace=False)
        try:
            last = committed_offsets(bootstrap, group, topic)
        except Exception as exc:  # the broker may be restarting
            last = {"error": str(exc)}  # type: ignore[dict-item]
        if all(last.get(p, -1) >= end for p, end in ends.items() if end > 0):
            return time.monotonic() - start
        time.sleep(0.5)
    tails = "\n".join(f"--- {w.counts_file.name}\n{w.log_tail(30)}" for w in workers)
    pytest.fail(f"not committed within {timeout}s: committed {last}, ends {ends}\n{tails}", pytrace=False)


def wait_until(predicate: Any, timeout: float, what: str, workers: Sequence[WorkerProcess] = ()) -> float:
    """Poll `predicate()` until true; fail on timeout or if one of `workers` died."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        for w in workers:
            if not w.alive():
                pytest.fail(
                    f"worker {w.proc.pid} exited with {w.proc.returncode} while waiting for {what}\n{w.log_tail()}",
                    pytrace=False,
                )
        if predicate():
            return time.monotonic() - start
        time.sleep(0.2)
    pytest.fail(f"timeout ({timeout}s) waiting for {what}", pytrace=False)


# --------------------------------------------------------------------------- a second broker
def free_port_pair(start: int = 19092) -> int:
    """A port p with p and p+1 (the controller) free on 127.0.0.1."""
    for port in range(start, start + 400, 2):
        ok = True
        for p in (port, port + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port pair")


class SeparateBroker:
    """A broker of its own (infra/kafka/kafka.sh with KAFKA_PORT and KAFKA_DATA_DIR), so this
    suite can stop and restart it without touching the shared broker on 9092."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port_pair()
        self.data_dir = data_dir
        self.env = dict(
            os.environ,
            KAFKA_PORT=str(self.port),
            KAFKA_DATA_DIR=str(data_dir),
            KAFKA_STOP_TIMEOUT="20",
            KAFKA_START_TIMEOUT="120",
        )
        self.env.pop("KAFKA_CONTROLLER_PORT", None)
        self.timings: dict[str, float] = {}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, cmd: str, timeout: float = 180) -> float:
        assert self.port != 9092, "never stop or restart the shared broker"
        start = time.monotonic()
        proc = subprocess.run(
            ["bash", str(KAFKA_SH), cmd],
            env=self.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            pytest.fail(f"kafka.sh {cmd} (port {self.port}) failed: {proc.stderr[-3000:]}", pytrace=False)
        elapsed = time.monotonic() - start
        self.timings[cmd] = elapsed
        return elapsed

    def start(self) -> float:
        return self._run("start")

    def stop(self) -> float:
        return self._run("stop")


# --------------------------------------------------------------------------- the landing ledger
def _landing_files(warehouse: Path, table: str) -> str:
    return f"{warehouse}/landing/{table}/*.parquet"


def landed_event_rows(warehouse: Path) -> list[tuple[str, str, int, int, str]]:
    """(event_id, writer id, landing batch, seq, payload) of every landed events row."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            f"select event_id, seq, payload, filename from "
            f"read_parquet('{_landing_files(warehouse, 'events')}', filename=true)"
        ).fetchall()
    finally:
        con.close()
    out = []
    for event_id, seq, payload, filename in rows:
        m = _PART.match(Path(filename).name)
        assert m, filename
        out.append((event_id.lower(), m.group(2), int(m.group(1)), seq, payload))
    return out


def landed_dead_letter_origins(warehouse: Path) -> Counter[tuple[int, int]]:
    """(partition, offset) of every landed dead letter, with multiplicity."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(f"select origin from read_parquet('{_landing_files(warehouse, 'dead_letters')}')").fetchall()
    finally:
        con.close()
    return Counter((json.loads(o)["partition"], json.loads(o)["offset"]) for (o,) in rows)


@dataclass(frozen=True)
class DeadLetterRow:
    """One dead letter as landed or read from the dead-letter topic: where its line was read,
    why it was rejected, its text (as the landing keeps it) and who wrote it."""

    partition: int
    offset: int
    reason: str
    text: str
    writer: str = ""
    batch: int = -1


def dead_letter_text(raw: bytes) -> str:
    """A line as the landing keeps a dead letter's bytes (streams.processing.DeadLetter.to_row)."""
    return raw.decode("utf-8", errors="replace")[:65536]


def landed_dead_letters(warehouse: Path) -> list[DeadLetterRow]:
    """Every landed dead letter, with its reason and the landing file's writer and batch."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            f"select origin, reason, raw, filename from "
            f"read_parquet('{_landing_files(warehouse, 'dead_letters')}', filename=true)"
        ).fetchall()
    finally:
        con.close()
    out = []
    for origin, reason, raw, filename in rows:
        o, m = json.loads(origin), _PART.match(Path(filename).name)
        out.append(
            DeadLetterRow(
                int(o["partition"]),
                int(o["offset"]),
                reason,
                raw,
                m.group(2) if m else Path(filename).name,
                int(m.group(1)) if m else -1,
            )
        )
    return out


def topic_dead_letters(messages: Any) -> list[DeadLetterRow]:
    """The dead-letter topic's messages (pipeline_helpers.read_topic) as rows: origin and reason
    from the headers, the value as text."""
    out = []
    for m in messages:
        origin = json.loads(m.headers["origin"])
        reason = m.headers.get("reason", b"?")
        out.append(
            DeadLetterRow(
                int(origin["partition"]),
                int(origin["offset"]),
                reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason),
                dead_letter_text(m.value or b""),
            )
        )
    return out


def _describe(text: str) -> str:
    try:
        ev = json.loads(text)
    except ValueError:
        return f"{len(text)} chars, not JSON"
    if not isinstance(ev, dict):
        return f"{len(text)} chars, JSON {type(ev).__name__}"
    return " ".join(f"{k}={ev.get(k)}" for k in ("event_id", "event_type", "district_code", "school_id", "year", "seq"))


def dead_letter_report(rows: Sequence[DeadLetterRow], expected: Counter[bytes]) -> str:
    """Why every dead letter was rejected, per source (partition, offset), for an assertion
    message: first those whose line is not one of the `expected` bad lines (a valid event
    dead-lettered: the bug to look for), then the bad lines never dead-lettered, then all."""
    wanted = {dead_letter_text(line) for line in expected}
    by_origin: dict[tuple[int, int], list[DeadLetterRow]] = defaultdict(list)
    for r in rows:
        by_origin[(r.partition, r.offset)].append(r)
    out = [f"{len(by_origin)} dead-lettered origins ({len(rows)} rows); {sum(expected.values())} bad lines expected"]

    def line(origin: tuple[int, int], found: list[DeadLetterRow]) -> str:
        reasons = "; ".join(sorted({r.reason for r in found}))
        writers = ", ".join(sorted({f"{r.writer}#{r.batch}" for r in found if r.writer}))
        return f"  {origin[0]}:{origin[1]} [{writers}] {reasons} <- {_describe(found[0].text)}"

    unexpected = [(o, f) for o, f in sorted(by_origin.items()) if f[0].text not in wanted]
    out.append(f"dead-lettered but not a bad line ({len(unexpected)}):")
    out += [line(o, f) for o, f in unexpected]
    seen = {f[0].text for f in by_origin.values()}
    missing = [t for t in sorted(wanted) if t not in seen]
    out.append(f"bad lines never dead-lettered ({len(missing)}):")
    out += [f"  {_describe(t)}" for t in missing]
    out.append("every dead letter (partition:offset [writer#landing batch] reason):")
    out += [line(o, f) for o, f in sorted(by_origin.items())]
    return "\n".join(out)


@dataclass
class Incarnation:
    """One worker process: its id (names its landing files), whether it was SIGKILLed, and
    its last counts (for a killed one: as of its last completed batch)."""

    worker_id: str
    killed: bool
    counts: dict[str, Any]
    started_s: float = 0.0
    stopped_s: float = 0.0


@dataclass
class Ledger:
    """What the landing and the incarnations' counts say, against the clean run."""

    rows: int
    distinct: int
    doubled: dict[str, int]  # event id -> rows beyond the first
    unexplained: dict[str, list[tuple[str, int]]]
    totals: dict[str, int]
    redelivered: int
    crash_rows: int

    def figures(self) -> dict[str, Any]:
        return {
            "landed_rows": self.rows,
            "distinct_ids": self.distinct,
            "landed_twice": len(self.doubled),
            "rows_in_crashed_batches": self.crash_rows,
            "redelivered": self.redelivered,
            **self.totals,
        }


def ledger(warehouse: Path, incarnations: Sequence[Incarnation], lines: int) -> Ledger:
    """Events landed per incarnation, and which double landings a crash explains.

    A killed worker's last landed batch may not have completed (landing comes before the
    outputs, the facts table and the acknowledgement): its events are re-delivered and, when
    their facts had not reached the changelog, applied and landed again by the next owner. That
    is the only legitimate double landing. So for every event id: at most ONE row outside the
    killed incarnations' last batches (two would mean an event applied twice after it was
    committed to the facts table), and every row identical (same seq and payload)."""
    rows = landed_event_rows(warehouse)
    last_batch: dict[str, int] = {}
    for _, writer, batch, _, _ in rows:
        last_batch[writer] = max(batch, last_batch.get(writer, -1))
    killed = {i.worker_id for i in incarnations if i.killed}
    by_id: dict[str, list[tuple[str, int, int, str]]] = defaultdict(list)
    for event_id, writer, batch, seq, payload in rows:
        by_id[event_id].append((writer, batch, seq, payload))
    doubled: dict[str, int] = {}
    unexplained: dict[str, list[tuple[str, int]]] = {}
    crash_rows = 0
    for event_id, found in by_id.items():
        crash = [r for r in found if r[0] in killed and r[1] == last_batch[r[0]]]
        crash_rows += len(crash)
        if len(found) > 1:
            doubled[event_id] = len(found) - 1
            if len(found) - len(crash) > 1 or len({(r[2], r[3]) for r in found}) != 1:
                unexplained[event_id] = [(r[0], r[1]) for r in found]
    totals = {k: sum(int(i.counts.get(k, 0)) for i in incarnations) for k in COUNTS}
    return Ledger(
        rows=len(rows),
        distinct=len(by_id),
        doubled=doubled,
        unexplained=unexplained,
        totals=totals,
        redelivered=totals["read"] - lines,
        crash_rows=crash_rows,
    )


# --------------------------------------------------------------------------- marts
#: mart_alerts is left out of the comparison: it is the history of the worker's *stream* alert
#: hook (fire-and-forget per batch, stamped with wall-clock evaluation times and run ids, and
#: driven by previous_attained, which depends on batching). The embedded clean run evaluates no
#: alerts at all, so there is nothing to compare it with; tests/junheng/alerting covers it.
MARTS_EXCLUDED = {"mart_alerts": "stream alert history: wall-clock times, run ids, batch-dependent"}
#: Columns excluded per mart: none. The other marts carry no load timestamp, batch id or writer id
#: (landed_at/landed_batch/landed_pos/worker ids stop at staging), so they must be equal row for
#: row. Floats are compared to 9 significant digits: DuckDB's parallel sums may add in another
#: order when the landing is split into other files.
COLUMNS_EXCLUDED: dict[str, set[str]] = {}


class MartBuild:
    """`python -m junheng.cli build --warehouse W --as-of 2026-11-28 --quiet --json`, in the
    background (dbt takes ~20-30 s); `result()` waits and fails with the output if it failed."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self.log = warehouse.parent / f"{warehouse.name}-build.log"
        self.start = time.monotonic()
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "junheng.cli",
                "build",
                "--warehouse",
                str(warehouse),
                "--as-of",
                AS_OF,
                "--quiet",
                "--json",
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=self._out,
        )
        self.elapsed = 0.0
        self._result: dict[str, Any] | None = None

    def result(self, timeout: float = 300) -> dict[str, Any]:
        if self._result is None:
            try:
                out, _ = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                pytest.fail(f"build of {self.warehouse} did not finish in {timeout}s", pytrace=False)
            self._out.close()
            self.elapsed = time.monotonic() - self.start
            text = out.decode("utf-8", "replace")
            try:
                self._result = json.loads(text)
            except ValueError:
                pytest.fail(
                    f"build of {self.warehouse} printed no JSON (exit {self.proc.returncode}): {text[-2000:]}"
                    f"\n{self.log.read_text(errors='replace')[-3000:]}",
                    pytrace=False,
                )
            if self.proc.returncode != 0 or not self._result.get("success"):
                pytest.fail(f"build of {self.warehouse} failed: {text[-3000:]}", pytrace=False)
        return self._result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self._out.closed:
            self._out.close()


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.9g}") if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    return value


def mart_snapshot(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart's rows, normalised and sorted (excluded marts and columns left out)."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        marts = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where "
                "table_schema = 'main' and table_name like 'mart_%' order by 1"
            ).fetchall()
        ]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for mart in marts:
            if mart in MARTS_EXCLUDED:
                continue
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where "
                    f"table_schema = 'main' and table_name = '{mart}' "
                    "order by ordinal_position"
                ).fetchall()
                if c not in COLUMNS_EXCLUDED.get(mart, set())
            ]
            rows = con.execute(f"select {', '.join(repr_ident(c) for c in cols)} from main.{mart}").fetchall()
            out[mart] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
        return out
    finally:
        con.close()


def repr_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def mart_differences(mine: dict[str, list[tuple[Any, ...]]], clean: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Human-readable differences (empty when the marts are equal)."""
    problems = []
    if set(mine) != set(clean):
        problems.append(f"marts differ: {sorted(set(mine) ^ set(clean))}")
    for mart in sorted(set(mine) & set(clean)):
        a, b = Counter(mine[mart]), Counter(clean[mart])
        if a != b:
            extra, missing = list((a - b).elements()), list((b - a).elements())
            problems.append(
                f"{mart}: {len(mine[mart])} rows vs {len(clean[mart])} clean; "
                f"{len(extra)} extra e.g. {extra[:2]}; {len(missing)} missing e.g. {missing[:2]}"
            )
    return problems


@dataclass
class Phase:
    """Timings of a test's phases, printed with the figures."""

    marks: dict[str, float] = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)

    def mark(self, name: str) -> None:
        self.marks[name] = round(time.monotonic() - self.t0, 1)
