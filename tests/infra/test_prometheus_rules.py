"""The pipeline's own alerts and dashboard (issue #12 item 2): infra/prometheus/rules.yml passes
`promtool check rules` and its unit tests (`promtool test rules`, infra/prometheus/rules_test.yml:
lag growing, no commit, dead-letter rate, stale and old marts, failing builds, failed deliveries);
a real Prometheus loads the rules and parses every panel query of infra/grafana/junheng.json; and
every metric the rules and the dashboard name is one junheng/metrics.py exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_helpers import Prometheus, http_get, wait_until

from junheng.metrics import EXPORTED

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "rules.yml"
RULES_TEST = ROOT / "infra" / "prometheus" / "rules_test.yml"
DASHBOARD = ROOT / "infra" / "grafana" / "junheng.json"
_METRIC = re.compile(r"\bjunheng_[a-z_]+\b")
#: the dashboard's variables, as Grafana substitutes them
_VARIABLES = {"$worker_job": "junheng-worker", "$builder_job": "junheng-builder", "$__rate_interval": "5m"}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is not installed: run scripts/system-deps.sh (Debian package `prometheus`)", pytrace=False
        )
    return found


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"] if p["type"] != "row"]


def _exported(name: str) -> bool:
    """`name` is a metric junheng/metrics.py exports (a histogram's _bucket, _sum and _count too)."""
    if name in EXPORTED:
        return True
    base, _, suffix = name.rpartition("_")
    return suffix in ("bucket", "sum", "count") and EXPORTED.get(base, ("",))[0] == "histogram"


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    promtool = _promtool()
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in check.stdout
    unit = subprocess.run(
        [promtool, "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent, capture_output=True, text=True, timeout=60
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert "SUCCESS" in unit.stdout
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text(encoding="utf-8")))
    required = {
        "JunhengConsumerLagGrowing",
        "JunhengNoCommit",
        "JunhengDeadLetterRate",
        "JunhengMartsStale",
        "JunhengBuildsFailing",
        "JunhengAlertDeliveryFailing",
    }
    assert required <= tested, f"no unit test for {sorted(required - tested)}"


def test_every_alert_is_labelled_for_routing_and_every_alert_and_metric_explained() -> None:
    for rule in _rules():
        assert rule["labels"]["service"] == "junheng-pipeline" and rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [rule["alert"] for rule in _rules() if rule["alert"] not in runbook]
    assert not missing, f"docs/operations.md does not explain {missing}"
    undocumented = [name for name in EXPORTED if f"`{name}" not in runbook]
    assert not undocumented, f"docs/operations.md does not list the metrics {undocumented}"


def test_the_dashboard_is_a_grafana_dashboard_of_our_metrics() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert doc["uid"] and doc["title"] and isinstance(doc["schemaVersion"], int)
    assert {"datasource", "worker_job", "builder_job"} <= {v["name"] for v in doc["templating"]["list"]}
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: set[tuple[int, int]] = set()
    for p in doc["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine
    panels = _dashboard_panels()
    assert len(panels) >= 10
    named: set[str] = set()
    for p in panels:
        assert p["type"] in ("timeseries", "stat") and p["title"] and p["description"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"] and len({t["refId"] for t in p["targets"]}) == len(p["targets"])
        for t in p["targets"]:
            names = set(_METRIC.findall(t["expr"]))
            assert names, f"panel {p['title']!r}: {t['expr']} names no junheng metric"
            named |= names
    for rule in _rules():
        named |= set(_METRIC.findall(rule["expr"]))
    unknown = sorted(n for n in named if not _exported(n))
    assert not unknown, f"named in the dashboard or the rules but not exported by junheng/metrics.py: {unknown}"
    # what the issue asks to watch has a panel
    on_panels = {n for p in panels for t in p["targets"] for n in _METRIC.findall(t["expr"])}
    for wanted in (
        "junheng_events_total",
        "junheng_dead_letters_total",
        "junheng_consumer_lag",
        "junheng_last_commit_age_seconds",
        "junheng_batch_duration_seconds_bucket",
        "junheng_gx_duration_seconds_bucket",
        "junheng_state_rebuilds_total",
        "junheng_builds_total",
        "junheng_build_duration_seconds_bucket",
        "junheng_marts_age_seconds",
        "junheng_alerts_firing",
        "junheng_alert_deliveries_failed_total",
    ):
        assert wanted in on_panels, f"no panel shows {wanted}"


def test_real_prometheus_loads_the_rules_and_parses_every_panel_query(tmp_path: Path) -> None:
    prometheus = Prometheus(tmp_path, {}, rules=RULES)
    try:

        def rules_loaded() -> list[dict[str, Any]] | None:
            status, body = http_get(f"{prometheus.url}/api/v1/rules")
            groups = json.loads(body)["data"]["groups"] if status == 200 else []
            loaded = [r for g in groups for r in g["rules"]]
            return loaded if len(loaded) == len(_rules()) and all(r.get("health") == "ok" for r in loaded) else None

        loaded = wait_until(rules_loaded, 30, "Prometheus to load and evaluate the rules", prometheus.tail)
        assert {r["name"] for r in loaded} == {r["alert"] for r in _rules()}
        for p in _dashboard_panels():
            for t in p["targets"]:
                expr = t["expr"]
                for variable, value in _VARIABLES.items():
                    expr = expr.replace(variable, value)
                status, body = http_get(f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
                assert status == 200 and json.loads(body)["status"] == "success", f"{p['title']}: {expr}: {body}"
    finally:
        prometheus.close()
