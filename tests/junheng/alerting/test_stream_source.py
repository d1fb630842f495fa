"""The stream source: district status change rows → DistrictAttainmentLost, from the rows of a
batch (the worker hook) and from the landed rows (``junheng alerts``) — the same alerts either way."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from factories import good_district, inspection

from junheng.alerting import AlertConfig, StreamAlerter, evaluate_and_send, load_book, state_path
from junheng.alerting.history import read_history
from junheng.alerting.model import DISTRICT_ATTAINMENT_LOST, FIRING, RESOLVED, fingerprint
from junheng.alerting.sources import apply_statuses, attainment_alerts
from streams.embedded import EmbeddedRunner

AS_OF = dt.date(2026, 6, 30)


def row(attained, previous=None, failed=(), code="370202", year=2023):
    return {
        "district_code": code,
        "year": year,
        "attained": attained,
        "previous_attained": previous,
        "failed_items": json.dumps(list(failed)),
        "undecided_items": "[]",
    }


def lost(memory):
    return {(a.district_code, a.year) for a in attainment_alerts(memory)}


def test_attained_true_to_false_fires_and_coming_back_clears():
    memory: dict = {}
    apply_statuses(memory, [row(True)])
    assert lost(memory) == set()
    apply_statuses(memory, [row(False, True, ["V1"])])
    assert lost(memory) == {("370202", 2023)}
    (alert,) = attainment_alerts(memory, names={"370202": "市南区"})
    assert alert.alertname == DISTRICT_ATTAINMENT_LOST and alert.rule_id == "ATTAINMENT"
    assert alert.alert_id == fingerprint(DISTRICT_ATTAINMENT_LOST, "370202", "ATTAINMENT", 2023)
    assert "V1" in alert.summary and "市南区 (370202)" in alert.summary and "V1" in alert.description
    apply_statuses(memory, [row(False, False, ["V1", "G5"])])  # still lost, wording follows
    assert "G5" in attainment_alerts(memory)[0].summary
    apply_statuses(memory, [row(True, False)])
    assert lost(memory) == set()


def test_never_attained_is_not_a_loss_and_undecided_changes_nothing():
    memory: dict = {}
    apply_statuses(memory, [row(False), row(False, False), row(None, False)])
    assert lost(memory) == set()
    # True → undecided → False is a loss (the last decided value was True)
    apply_statuses(memory, [row(True, None, code="370203"), row(None, True, code="370203")])
    assert lost(memory) == set()
    apply_statuses(memory, [row(False, None, ["SR"], code="370203")])
    assert lost(memory) == {("370203", 2023)}
    # undecided while lost: still lost
    apply_statuses(memory, [row(None, False, code="370203")])
    assert lost(memory) == {("370203", 2023)}


def test_reapplying_rows_gives_the_same_memory():
    rows = [row(True), row(False, True, ["V1"]), row(None, False), row(False, None, ["V1"])]
    once: dict = {}
    apply_statuses(once, rows)
    twice: dict = {}
    apply_statuses(twice, rows)
    apply_statuses(twice, rows[1:])
    assert once == twice


class HookedRunner(EmbeddedRunner):
    """The embedded driver with the worker hook wired after landing (the wiring the CLI needs)."""

    def __init__(self, warehouse: Path, alerter: StreamAlerter) -> None:
        super().__init__(warehouse)
        self.alerter = alerter
        self.runs = []

    def land(self, result, batch):
        super().land(result, batch)
        self.runs.append(self.alerter.on_statuses(result.statuses, result.applied))


def write(path: Path, events) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def test_worker_hook_and_landed_rows_give_the_same_alerts(tmp_path, receiver):
    hooked = tmp_path / "hooked"
    alerter = StreamAlerter(hooked, webhook_url=receiver.url + "/hook")
    runner = HookedRunner(hooked, alerter)
    files = [
        write(tmp_path / "1.jsonl", good_district()),
        write(tmp_path / "2.jsonl", [inspection("exam_admission", "fail", seq=1)]),
        write(tmp_path / "3.jsonl", [inspection("exam_admission", "pass", seq=2)]),
    ]
    alert_id = fingerprint(DISTRICT_ATTAINMENT_LOST, "370202", "ATTAINMENT", 2023)

    runner.run([files[0]])
    assert runner.runs[-1].fired == [] and runner.runs[-1].ok
    runner.run([files[1]])  # the veto: attained True → False
    run = runner.runs[-1]
    assert [a.alert_id for a in run.fired] == [alert_id] and run.ok, run.as_dict()
    assert "V1" in run.fired[0].summary
    runner.run([files[2]])  # cleared: back to attained
    run = runner.runs[-1]
    assert [a.alert_id for a in run.resolved] == [alert_id] and not run.fired

    # the webhook got exactly the two state changes, in order
    events = [e for body in receiver.bodies("/hook") for e in body["alerts"]]
    assert [(e["alert_id"], e["status"]) for e in events] == [(alert_id, FIRING), (alert_id, RESOLVED)]
    # and the history landed them for mart_alerts
    history = read_history(hooked / "landing")
    assert [(h["alert_id"], h["state"]) for h in history] == [(alert_id, FIRING), (alert_id, RESOLVED)]
    assert history[1]["ends_at"] is not None and history[0]["starts_at"] == history[1]["starts_at"]

    # the same files through the plain embedded driver, alerts evaluated afterwards from the landing
    plain = tmp_path / "plain"
    config = AlertConfig(marts=False)
    seen = []
    for f in files:
        EmbeddedRunner(plain).run([f])
        r = evaluate_and_send(plain, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False, config=config)
        assert r.sources["stream"].ok, r.as_dict()
        seen.append(([a.alert_id for a in r.fired], [a.alert_id for a in r.resolved]))
    assert seen == [([], []), ([alert_id], []), ([], [alert_id])]

    # a full evaluation of the hooked warehouse agrees with what the hook did: nothing changes
    r = evaluate_and_send(hooked, as_of=AS_OF, alertmanager_url=None, webhook_url=None, kafka=False, config=config)
    assert not r.fired and not r.resolved and r.ok
    assert load_book(state_path(hooked)).memory == load_book(state_path(plain)).memory


def test_hook_ignores_batches_without_status_changes(tmp_path):
    assert StreamAlerter(tmp_path).on_statuses([]) is None
