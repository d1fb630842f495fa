"""The pipeline's own alerts on the real thing (issue #12 item 2): a worker on the shared broker
stalls (the test-only fault JUNHENG_FAULT_STALL_AFTER: its second batch never finishes, so nothing
more is acknowledged or committed while its event loop, metrics and health checks go on, and
events keep arriving); a real Prometheus scrapes it and evaluates infra/prometheus/rules.yml; the
real Alertmanager, configured by infra/alertmanager/alertmanager.yml, receives JunhengNoCommit and
JunhengConsumerLagGrowing and routes them to the platform's receiver, not the bureau's.

The rules are the shipped ones with their durations and thresholds scaled down (minutes to seconds,
600 s to 5 s, 1000 events to 20), so the test takes seconds; every scaled substitution must match
the shipped text, so the file cannot drift from what is tested. /healthz stays 200 (the loop turns)
while /readyz is 503 (lag above the bound)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_helpers import WorkerProcess, delete_topics, kafka_settings, unique_prefix
from prometheus_helpers import Prometheus, free_port, http_get, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "rules.yml"
AM_CONFIG = ROOT / "infra" / "alertmanager" / "alertmanager.yml"
#: (alert, shipped text, scaled text) -- each must occur in that alert's expression
SCALED = [
    ("JunhengNoCommit", "junheng_last_commit_age_seconds > 600", "junheng_last_commit_age_seconds > 5"),
    ("JunhengConsumerLagGrowing", "(junheng_consumer_lag) > 1000", "(junheng_consumer_lag) > 20"),
]


def scaled_rules(tmp: Path) -> Path:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    for alert, shipped, scaled in SCALED:
        assert shipped in rules[alert]["expr"], f"{alert}: infra/prometheus/rules.yml no longer says {shipped!r}"
        rules[alert]["expr"] = rules[alert]["expr"].replace(shipped, scaled)
    for rule in rules.values():
        if "for" in rule:
            rule["for"] = "2s"
    path = tmp / "rules.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


class Alertmanager:
    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            pytest.fail("Alertmanager is not installed: run scripts/system-deps.sh", pytrace=False)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "alertmanager.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={AM_CONFIG}", f"--storage.path={tmp / 'am-data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(lambda: self.proc.poll() is not None or http_get(f"{self.url}/-/ready")[0] == 200, 30,
                   "Alertmanager to be ready", self.tail)  # fmt: skip
        if self.proc.poll() is not None:
            pytest.fail(f"Alertmanager exited with {self.proc.returncode}\n{self.tail()}", pytrace=False)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?active=true", timeout=5) as response:
            return list(json.loads(response.read()))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def prefix(kafka_bootstrap):
    name = unique_prefix()
    yield name
    try:
        delete_topics(kafka_bootstrap, name)
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"could not delete topics of {name}: {exc}")


def test_a_stalled_worker_fires_the_pipeline_alerts_into_alertmanager(kafka_bootstrap, prefix, tmp_path, monkeypatch):
    from ingestion.producer import create_topics, produce_lines
    from ingestion.synthetic import generate_city

    lines = generate_city(seed=13, schools=40).lines[:1000]
    settings = kafka_settings(kafka_bootstrap, prefix)
    assert set(create_topics(settings, partitions=2).values()) == {"created"}
    assert produce_lines(lines[:100], settings)["sent"] == 100
    more = iter(lines[100:])

    port = free_port()
    target = f"127.0.0.1:{port}"
    am = Alertmanager(tmp_path)
    prometheus = Prometheus(tmp_path, {"junheng-worker": [target]}, rules=scaled_rules(tmp_path),
                            alertmanagers=[f"127.0.0.1:{am.port}"])  # fmt: skip
    monkeypatch.setenv("JUNHENG_FAULT_STALL_AFTER", "1")  # the worker's first batch part, then it stalls
    try:
        with WorkerProcess(kafka_bootstrap, prefix, tmp_path / "warehouse", tmp_path / "worker.log",
                           batch_size=50, batch_seconds=0.2,
                           extra_args=["--no-gx", "--metrics-port", str(port), "--ready-max-lag", "20"]) as worker:  # fmt: skip

            def detail() -> str:
                firing = http_get(f"{prometheus.url}/api/v1/alerts")[1]
                return f"worker:\n{worker.log_tail(10)}\nPrometheus' alerts: {firing}\nalertmanager: {am.alerts()}"

            worker.wait_for(lambda c: c["batches"] >= 1, 60, "the first batch")

            def pipeline_alerts() -> dict[str, dict[str, Any]] | None:
                # events keep arriving at the stalled worker: its lag grows
                produce_lines([line for line, _ in zip(more, range(10))], settings)
                found = {a["labels"]["alertname"]: a for a in am.alerts()
                         if a["labels"].get("service") == "junheng-pipeline"}  # fmt: skip
                return found if {"JunhengNoCommit", "JunhengConsumerLagGrowing"} <= set(found) else None

            fired = wait_until(pipeline_alerts, 90, "JunhengNoCommit and JunhengConsumerLagGrowing in Alertmanager",
                               detail)  # fmt: skip
            for name in ("JunhengNoCommit", "JunhengConsumerLagGrowing"):
                alert = fired[name]
                assert alert["labels"]["component"] == "worker" and alert["labels"]["instance"] == target
                assert [r["name"] for r in alert["receivers"]] == ["platform-on-call"], alert["receivers"]
                assert alert["status"]["state"] == "active"
            assert fired["JunhengNoCommit"]["labels"]["severity"] == "critical"
            assert "committed nothing" in fired["JunhengNoCommit"]["annotations"]["summary"]

            # stalled, not dead: the loop turns, the counts stand still, readiness says why
            counts = worker.counts()
            assert counts is not None and counts["read"] <= 100 and worker.alive()
            assert http_get(f"http://{target}/healthz")[0] == 200
            status, body = http_get(f"http://{target}/readyz")
            assert status == 503 and "events behind" in body, body
            assert "JunhengWorkerDown" not in fired
            assert "injected: JUNHENG_FAULT_STALL_AFTER" in worker.log_tail(200)
            worker.kill()  # a stalled batch never ends: SIGTERM would wait for it
    finally:
        prometheus.close()
        am.close()
