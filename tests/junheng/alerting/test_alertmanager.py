"""Against a real Alertmanager (started by the fixture on loopback with
infra/alertmanager/alertmanager.yml, its webhook receivers pointed at a test receiver): alerts fire,
are visible in /api/v2/alerts, are grouped by district_code in /api/v2/alerts/groups, and
disappear when resolved, the receiver getting the resolved notification."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from alerting_helpers import AM_CONFIG, AS_OF, fake_marts, wait_until

from junheng.alerting import AlertConfig, evaluate_and_send
from junheng.alerting.delivery import RetryPolicy

CONFIG = AlertConfig(stream=False, retry=RetryPolicy(attempts=2, backoff_s=0.05, timeout_s=5))


def test_the_example_config_is_valid():
    amtool = shutil.which("amtool")
    if not amtool:
        pytest.fail("amtool is needed: install it with `apt-get install -y prometheus-alertmanager`", pytrace=False)
    out = subprocess.run([amtool, "check-config", str(AM_CONFIG)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _evaluate(wh, am):
    return evaluate_and_send(wh, as_of=AS_OF, alertmanager_url=am.url, webhook_url=None, kafka=False, config=CONFIG)


def _group(am, district, receiver_name):
    for g in am.groups():
        if g["labels"] == {"district_code": district} and g["receiver"]["name"] == receiver_name:
            return g
    return None


def test_fire_group_and_resolve_in_alertmanager(tmp_path, alertmanager, receiver):
    am = alertmanager
    behind = ("370203", 2025, 2023, False, False, ["C5: only 0 of 4 (0%)", "C9: pay 1.08e+05, needs >= 1.12e+05"])
    deadline = ("370211", 2025, 2023, True, False, ["D3: no recognition_application by the deadline 2026-05-31"])
    city = (2025, 10, 5, 1.0, False, True, True)
    fake_marts(tmp_path / "junheng.duckdb", [behind, deadline], city=[city])

    run = _evaluate(tmp_path, am)
    assert run.ok, run.as_dict()
    assert len(run.fired) == 4 and run.deliveries[0].channel == "alertmanager" and run.deliveries[0].sent == 4

    # visible through GET /api/v2/alerts, with our labels, annotations and the fingerprint annotation
    active = wait_until(
        lambda: len(am.active(service="junheng")) == 4 and am.active(service="junheng"), what="4 active alerts"
    )
    ids = {a["annotations"]["alert_id"] for a in active}
    assert ids == {a.alert_id for a in run.fired}
    c5 = next(a for a in active if a["labels"]["rule_id"] == "C5")
    assert c5["labels"] == {
        "alertname": "DistrictBehind",
        "district_code": "370203",
        "rule_id": "C5",
        "severity": "major",
        "year": "2025",
        "service": "junheng",
    }
    assert "C5" in c5["annotations"]["description"] and c5["annotations"]["fix"]
    assert c5["status"]["state"] == "active"

    # grouped by district_code: the two alerts of 370203 are one group (route bureau-duty);
    # the deadline goes to the planning office, the critical city alert to the leadership
    group = wait_until(lambda: _group(am, "370203", "bureau-duty"), what="the 370203 group")
    assert sorted(a["labels"]["rule_id"] for a in group["alerts"]) == ["C5", "C9"]
    assert [a["labels"]["rule_id"] for a in _group(am, "370211", "planning-office")["alerts"]] == ["D3"]
    assert [a["labels"]["alertname"] for a in _group(am, "city", "bureau-leadership")["alerts"]] == ["CityOffTrack"]

    # the receiver is notified once per group (group_wait 1 s in the test config)
    duty = wait_until(lambda: receiver.bodies("/alerts/duty"), what="the duty notification")
    assert duty[0]["status"] == "firing" and duty[0]["groupLabels"] == {"district_code": "370203"}
    assert sorted(a["labels"]["rule_id"] for a in duty[0]["alerts"]) == ["C5", "C9"]
    wait_until(
        lambda: receiver.bodies("/alerts/planning") and receiver.bodies("/alerts/leadership"),
        what="planning and leadership notifications",
    )

    # evaluating again changes nothing: repeats are refreshed, not new
    again = _evaluate(tmp_path, am)
    assert not again.fired and not again.resolved and len(again.repeated) == 4 and again.ok
    assert len(am.active(service="junheng")) == 4

    # 370203 catches up: its two alerts are resolved, leave the active alerts, and the receiver
    # gets the group's resolved notification (send_resolved: true)
    fake_marts(tmp_path / "junheng.duckdb", [behind[:4] + (True, []), deadline], city=[city])
    resolved = _evaluate(tmp_path, am)
    assert resolved.ok and sorted(a.rule_id for a in resolved.resolved) == ["C5", "C9"]
    wait_until(lambda: not am.active(district_code="370203"), what="370203's alerts to leave the active alerts")
    assert {a["labels"]["rule_id"] for a in am.active(service="junheng")} == {"D3", "C1"}

    def resolved_notice():
        return [b for b in receiver.bodies("/alerts/duty") if b["status"] == "resolved"]

    (notice,) = wait_until(resolved_notice, what="the resolved notification")[:1]
    assert notice["groupLabels"] == {"district_code": "370203"}
    assert sorted((a["labels"]["rule_id"], a["status"]) for a in notice["alerts"]) == [
        ("C5", "resolved"),
        ("C9", "resolved"),
    ]
    assert wait_until(lambda: _group(am, "370203", "bureau-duty") is None, what="the empty group to go")


def test_inhibition_and_refresh_keep_alerts_alive(tmp_path, alertmanager):
    """A vetoed district's DistrictBehind alerts of the same year are inhibited (still listed, not
    notified); a firing alert is re-posted with a fresh endsAt at every evaluation."""
    am = alertmanager
    fake_marts(
        tmp_path / "junheng.duckdb",
        [("370215", 2025, 2025, False, False, ["DCY: not attained", "C5: x"])],
        attainment=[("370215", 2025, True, False, ["V2"])],
    )
    run = _evaluate(tmp_path, am)
    assert run.ok and len(run.fired) == 3

    def inhibited():
        alerts = am.active(district_code="370215")
        states = {a["labels"]["alertname"] + "/" + a["labels"]["rule_id"]: a["status"] for a in alerts}
        return len(alerts) == 3 and states["DistrictBehind/C5"]["state"] == "suppressed" and (alerts, states)

    alerts, states = wait_until(inhibited, what="3 alerts, DistrictBehind inhibited by the veto")
    assert states["DistrictVetoed/V2"]["state"] == "active"
    assert states["DistrictBehind/C5"]["state"] == "suppressed" and states["DistrictBehind/C5"]["inhibitedBy"]
    ends_before = {a["fingerprint"]: a["endsAt"] for a in alerts}
    again = _evaluate(tmp_path, am)
    assert again.ok and len(again.repeated) == 3
    ends_after = {a["fingerprint"]: a["endsAt"] for a in am.active(district_code="370215")}
    assert set(ends_after) == set(ends_before) and all(ends_after[k] >= ends_before[k] for k in ends_after)
