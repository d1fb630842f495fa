"""Keeps benchmarks/pipeline.py and benchmarks/latency.py working, at a tiny size: every figure is
produced and sane (each reader counted every event produced, the worker's counts balance,
p50 <= p99, no probe lost). Not a speed assertion -- targets are checked by running the
benchmarks (docs/benchmarks.md), never by a test."""

from __future__ import annotations

import json

import pytest

from benchmarks import latency, pipeline
from benchmarks.__main__ import print_summary
from benchmarks.kafka_util import BrokerUnavailable, require_broker
from benchmarks.machine import describe

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def servers() -> str:
    try:
        return require_broker()
    except BrokerUnavailable as exc:  # a Kafka test fails, never skips, without its broker
        pytest.fail(str(exc), pytrace=False)


def test_pipeline_and_latency_figures(servers: str) -> None:
    # batches of 200: a rate needs at least two batches (it is measured between batch ends)
    pipe = pipeline.run(schools=40, servers=servers, gx_rows=(False,), json_row=False, batch_size=200)
    lat = latency.run(servers=servers, schools=40, rate=200, seconds=3, batch_seconds=(0.2,), gx=False)

    lines = pipe["lines"]
    assert lines > 500
    bare, worker = pipe["rows"]["bare"], pipe["rows"]["worker --no-gx"]
    assert bare["events"] == lines and worker["events"] == lines  # everyone read everything
    assert (
        worker["balanced"]
        and worker["applied"] + worker["duplicate"] + worker["stale"] + worker["dead_lettered"] == lines
    )
    assert 0 < worker["dead_lettered"] < 0.1 * lines
    assert bare["events_per_s"] > 0 and worker["events_per_s"] > 0 and worker["events_per_cpu_s"] > 0
    assert 0 < worker["share_of_bare"] == pipe["pipeline_share_of_bare"]

    (row,) = lat["rows"]
    assert row["sent"] == 600 and row["probes"] == 30
    assert row["lost"] == 0 and row["unmatched"] == 0 and row["wrong_state"] == 0
    assert row["count"] == row["probes"]  # one status change per probe
    assert 0 < row["p50_s"] <= row["p90_s"] <= row["p99_s"] <= row["max_s"] < 60
    assert row["worker_balanced"]

    results = {
        "machine": describe(),
        "load_average": {"start": [0.0], "end": [0.0]},
        "benchmarks": {"pipeline": pipe, "latency": lat},
    }
    rows = print_summary(results)
    figures = {r[0] for r in rows}
    assert any("worker --no-gx, events/s" in f for f in figures)
    assert any(f.startswith("latency p99") for f in figures)
    json.loads(json.dumps(results))  # the JSON file's content
