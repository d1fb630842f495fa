"""Metrics on the real thing (issue #12 items 1 and 4): a real Prometheus (the Debian package),
started here on loopback with a temporary configuration, scrapes a running `junheng worker` on the
shared broker; PromQL through Prometheus' HTTP API gives back the counts the worker applied and
dead-lettered as the generator labelled the lines, and the dead letters by reason as the embedded
driver finds them. /healthz and /readyz answer on the same port, and `junheng status` reports the
group's lag from Kafka (the whole topic before the worker, 0 after).

Prometheus is not optional: without it the test FAILS, saying how to install it
(scripts/system-deps.sh installs the `prometheus` package)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import WorkerProcess, delete_topics, embedded_reference, kafka_settings, unique_prefix
from prometheus_helpers import Prometheus, free_port, http_get, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def status_json(warehouse: Path, bootstrap: str, prefix: str) -> dict[str, Any]:
    """`junheng status --json` as a user runs it, on the test's topics."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), JUNHENG_KAFKA_BOOTSTRAP=bootstrap, JUNHENG_TOPIC_PREFIX=prefix)
    done = subprocess.run(
        [sys.executable, "-m", "junheng.cli", "status", "--warehouse", str(warehouse), "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture
def prefix(kafka_bootstrap):
    name = unique_prefix()
    yield name
    try:
        delete_topics(kafka_bootstrap, name)
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"could not delete topics of {name}: {exc}")


def test_prometheus_scrapes_the_worker_counts(kafka_bootstrap, prefix, tmp_path):
    from ingestion.producer import create_topics, produce_lines
    from ingestion.synthetic import generate_city

    city = generate_city(seed=12, schools=60, bad_fraction=0.03, duplicate_fraction=0.02, stale_fraction=0.02)
    lines = city.lines
    categories = Counter(city.category(i) for i in range(len(lines)))
    applied = sum(n for c, n in categories.items() if c in ("valid", "correction"))
    dead = sum(n for c, n in categories.items() if c.startswith("bad:"))
    # the reasons as the other driver finds them (the generator's label is what it broke, not
    # always the first check that catches it)
    reasons = embedded_reference(lines, tmp_path / "embedded", gx=False)["counts"]["dead_letter_reasons"]
    assert dead == sum(reasons.values()) > 0 and applied

    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=4).values()) == {"created"}
    assert produce_lines(lines, settings)["sent"] == len(lines)

    # junheng status asks Kafka: before any worker, the whole topic is the group's lag
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    before = status_json(warehouse, kafka_bootstrap, prefix)
    assert before["kafka"]["reachable"] and before["kafka"]["lag"] == len(lines), before["kafka"]
    assert before["worker"] is None and len(before["kafka"]["partitions"]) == 4

    port = free_port()
    target = f"127.0.0.1:{port}"
    prometheus = Prometheus(tmp_path, {"junheng-worker": [target]})
    try:
        with WorkerProcess(
            kafka_bootstrap,
            prefix,
            warehouse,
            tmp_path / "worker.log",
            extra_args=["--no-gx", "--metrics-port", str(port)],
        ) as worker:

            def detail() -> str:
                return f"worker:\n{worker.log_tail(30)}\nprometheus:\n{prometheus.tail()}"

            job = '{job="junheng-worker"}'
            wait_until(lambda: prometheus.value(f"up{job}") == 1, 90, "Prometheus to scrape the worker", detail)
            wait_until(
                lambda: prometheus.value(f"junheng_events_read_total{job}") == len(lines),
                120,
                f"Prometheus to see all {len(lines)} events read",
                detail,
            )

            # what Prometheus stored is what the pipeline counted, and what the generator meant
            outcomes = prometheus.by(f"junheng_events_total{job}", "outcome")
            assert outcomes == {
                "applied": applied,
                "duplicate": categories["duplicate"],
                "stale": categories["stale"],
                "dead_lettered": dead,
            }
            assert prometheus.value('sum(junheng_events_total{job="junheng-worker",outcome="dead_lettered"})') == dead
            assert prometheus.by(f"junheng_dead_letters_total{job}", "reason") == reasons
            assert prometheus.value(f"sum(junheng_events_total{job}) - sum(junheng_events_read_total{job})") == 0
            counts = worker.counts()
            assert counts is not None and counts["applied"] == applied

            # batches were timed; the group's lag drains to 0 once Faust has committed, and a
            # commit was seen
            assert prometheus.value(f"junheng_batch_duration_seconds_count{job}") == counts["batches"] > 0
            wait_until(
                lambda: (
                    prometheus.value(f"sum(junheng_consumer_lag{job})") == 0
                    and prometheus.value(f"count(junheng_consumer_lag{job})") == 4
                ),
                60,
                "the lag to drain on 4 partitions",
                detail,
            )
            assert prometheus.value(f"junheng_partitions_assigned{job}") == 4
            wait_until(
                lambda: prometheus.value(f"junheng_last_commit_age_seconds{job}") is not None, 30, "a commit", detail
            )
            assert prometheus.value(f"junheng_last_commit_age_seconds{job}") < 60
            (info,) = prometheus.query('junheng_info{job="junheng-worker",process="worker"}')
            assert info["metric"]["engine"] in ("compiled", "pure") and info["metric"]["catalogue"]
            assert prometheus.query("{__name__=~'junheng_faust_.+',job='junheng-worker'}"), (
                "Faust's Prometheus sensor exports nothing"
            )

            # health on the same port
            assert http_get(f"http://{target}/healthz")[0] == 200
            status, body = wait_until(
                lambda: (lambda r: r if r[0] == 200 else None)(http_get(f"http://{target}/readyz")),
                30,
                "/readyz",
                detail,
            )
            assert "4 partitions, 0 events behind" in body

            # and junheng status says the same as the metrics
            now = status_json(warehouse, kafka_bootstrap, prefix)
            assert now["kafka"]["lag"] == 0 and now["worker"]["status"] == "running"
            assert now["worker"]["read"] == len(lines) and now["worker"]["applied"] == applied
            assert now["worker"]["last_batch_age_s"] is not None
            assert worker.stop() == 0, worker.log_tail()
    finally:
        prometheus.close()
