"""Keeps benchmarks/published_latency.py working end to end at a tiny size: the real worker and
`junheng serve` on the local broker, a 40-school city, 200 events/s for 12 s. Every figure must be
real -- probes answered by published versions built after they were sent, latencies positive and
ordered, builds measured -- but no speed is asserted: the target (p99 < 15 s at city scale) is
checked by running the benchmark (docs/benchmarks.md), never by a test."""

from __future__ import annotations

import json

import pytest

from benchmarks import published_latency
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


def test_published_latency_figures(servers: str) -> None:
    figures = published_latency.run(
        servers=servers,
        schools=40,
        rate=200,
        seconds=12,
        max_staleness=(5.0,),
        debounce=1.0,
        flip_every=45.0,
        drain_s=240,
        data_docs=False,
        gx=False,
    )
    (row,) = figures["rows"]
    assert row["district_years"] == 50 and row["warm_up_sent"] == 50
    # one probe every 45 / 50 s for 12 s, each district-year flipped at most once
    assert row["probes"] == 14 and row["min_flip_gap_s"] is None
    assert row["sent_per_s"] >= 150  # the background load ran at about the rate
    assert row["resolved"] == row["probes"] and row["unresolved"] == 0
    # every probe answered by a version that was not yet published when it was sent
    assert row["answered_by_older_version"] == 0
    lat = row["probe_latencies_s"]
    assert len(lat) == row["resolved"] and all(x > 0 for x in lat)
    assert 0 < row["min_s"] <= row["p50_s"] <= row["p90_s"] <= row["p99_s"] <= row["max_s"] == max(lat)
    assert row["max_s"] < row["wall_s"]  # answered while the load still ran (or drained)
    # the builds that answered them: published by serve, none failed, their durations read back
    assert row["versions_published"] >= 1 and row["builds"]["failed"] == 0 and row["serve_exit"] == 0
    assert row["build_seconds"] and all(s > 0 for s in row["build_seconds"])
    assert len(row["build_seconds"]) <= row["versions_published"]
    assert row["read_errors"] == 0
    assert row["worker_balanced"]

    results = {
        "machine": describe(),
        "load_average": {"start": [0.0], "end": [0.0]},
        "benchmarks": {"published_latency": figures},
    }
    labels = {r[0] for r in print_summary(results)}
    assert any(label.startswith("event -> published p99") for label in labels)
    json.loads(json.dumps(figures))  # the JSON file's content
