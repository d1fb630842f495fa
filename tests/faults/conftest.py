"""Fixtures of the fault-injection suite (tests/faults, marker `faults`; docs/reliability.md).

The suite needs the shared local broker (infra/kafka/kafka.sh start): a missing broker is a
FAILURE, never a skip, so a CI run cannot go green without having injected the faults. Tests
that stop or restart a broker start their own (tests/faults/fault_helpers.SeparateBroker) and
never touch the shared one.

The clean reference -- the embedded driver over the same input, then `junheng build` -- is made
once per session: dbt takes ~20-30 s, so the build starts in the background as soon as the
reference has landed and the first faulted run overlaps it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# pipeline_helpers lives beside the Kafka tests; pytest only puts this folder on sys.path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kafka"))

from fault_helpers import FaultCity, MartBuild, build_fault_city, mart_snapshot  # noqa: E402
from pipeline_helpers import delete_topics, embedded_reference, judged, landed_event_ids, latest_status, unique_prefix  # noqa: E402


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """'127.0.0.1:PORT' of the shared broker, or fail (never skip) with how to start it."""
    port = int(os.environ.get("KAFKA_PORT", "9092"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            pass
    except OSError as exc:
        pytest.fail(
            f"Kafka broker not reachable at 127.0.0.1:{port} ({exc}); start it with infra/kafka/kafka.sh start",
            pytrace=False,
        )
    return f"127.0.0.1:{port}"


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A topic prefix no other run uses; its topics are deleted afterwards."""
    name = unique_prefix()
    yield name
    try:
        delete_topics(kafka_bootstrap, name)
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"could not delete topics of {name}: {exc}")


@pytest.fixture(scope="session")
def fault_city() -> FaultCity:
    """One input for every fault: 120 schools, 2 % bad/duplicate/stale lines, reordered, with
    explicit poison, split into head (faults) and tail (after the state store was lost)."""
    return build_fault_city(seed=7, schools=120)


@dataclass
class CleanRun:
    """The embedded driver over head, then tail (its state/ carries over, as a worker's table
    does): counts per part, the judged statuses after the head, the landed ids, the final
    district states and, once built, the marts."""

    warehouse: Path
    head: dict[str, Any]
    tail: dict[str, Any]
    head_judged: dict[Any, Any]
    head_ids: set[str]
    ids: set[str]
    states: dict[str, Any]
    build: MartBuild
    _marts: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def total(self) -> dict[str, int]:
        return {k: self.head[k] + self.tail[k] for k in ("read", "applied", "duplicate", "stale", "dead_lettered")}

    def marts(self) -> dict[str, Any]:
        if self._marts is None:
            result = self.build.result()
            self._marts = mart_snapshot(Path(result["database"]))
        return self._marts


@pytest.fixture(scope="session")
def clean_run(fault_city: FaultCity, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanRun]:
    tmp = tmp_path_factory.mktemp("clean")
    # gx=False as the workers run (--no-gx): the GX micro-batch suites are orthogonal to delivery
    head = embedded_reference(fault_city.head, tmp, gx=False)
    warehouse = head["warehouse"]
    head_judged = judged(latest_status(warehouse))
    head_ids = {i.lower() for i in landed_event_ids(warehouse)}
    tail = embedded_reference(fault_city.tail, tmp, gx=False)
    assert head["summary"].balanced() and tail["summary"].balanced()
    states = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (warehouse / "state").glob("*.json")}
    ids = {i.lower() for i in landed_event_ids(warehouse)}
    build = MartBuild(warehouse)
    run = CleanRun(warehouse, head["counts"], tail["counts"], head_judged, head_ids, ids, states, build)
    yield run
    build.close()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run this folder's mart comparisons (`test_marts_equal_*`) after its other tests.

    Each faulted run (a session fixture) starts its dbt build in the background when its faults
    are done; comparing its marts last lets the builds (~30 s each on 2 cores) overlap the next
    fault instead of adding to the wall time. Only the order changes: every comparison still runs.
    """
    here = Path(__file__).resolve().parent
    mine = [i for i in items if here in Path(str(i.path)).resolve().parents and i.name.startswith("test_marts_equal_")]
    if mine:
        rest = [i for i in items if i not in mine]
        last = max(
            (n for n, i in enumerate(rest) if here in Path(str(i.path)).resolve().parents), default=len(rest) - 1
        )
        items[:] = rest[: last + 1] + mine + rest[last + 1 :]
