"""The alert model and the AlertBook state machine: stable fingerprints, fire → repeat (deduped)
→ resolve, coverage, persistence, outboxes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from junheng.alerting.book import AlertBook, covers_sources, load_book, save_book
from junheng.alerting.model import (
    CITY_OFF_TRACK,
    DISTRICT_BEHIND,
    FIRING,
    MARTS,
    RESOLVED,
    STREAM,
    Alert,
    alert_event,
    canonical_identity,
    fingerprint,
)

T0 = dt.datetime(2026, 6, 30, 8, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def behind(
    code: str = "370203",
    rule: str = "C5",
    year: int = 2025,
    *,
    summary: str = "only 0 of 4 (0%)",
    severity: str = "major",
    source: str = MARTS,
    name: str = DISTRICT_BEHIND,
) -> Alert:
    return Alert(
        alertname=name,
        district_code=code,
        rule_id=rule,
        year=year,
        severity=severity,
        summary=f"{code} behind: {rule} {summary}",
        description=f"Rule {rule} … What to fix: …",
        clause="青教通字〔2021〕137号 三、(一)3",
        fix="fix it",
        reason=summary,
        source=source,
    )


# ---------------------------------------------------------------------- fingerprints
def test_fingerprint_is_sha256_of_the_identifying_labels_only():
    a = behind()
    expected = hashlib.sha256(
        b'{"alertname":"DistrictBehind","district_code":"370203","rule_id":"C5","year":2025}'
    ).hexdigest()
    assert a.alert_id == expected == fingerprint("DistrictBehind", "370203", "C5", 2025)
    # a known value: the same in every run, on every machine, from every driver
    assert a.alert_id == "a696eacb9f56a697ca5c9aea36c0609e7068340fcb138000324e4b0f4a316f5b"
    # wording, severity, state, times and source do not change it
    b = behind(summary="only 1 of 4 (25%)", severity="critical", source=STREAM).resolved(at(5))
    assert b.alert_id == a.alert_id
    # each identifying label does
    others = {
        behind(code="370202").alert_id,
        behind(rule="C7").alert_id,
        behind(year=2024).alert_id,
        behind(name="DistrictDeadlineMissed").alert_id,
    }
    assert len(others) == 4 and a.alert_id not in others


def test_city_alerts_use_the_city_label_and_a_null_district():
    c = Alert(
        alertname=CITY_OFF_TRACK,
        district_code=None,
        rule_id="C1",
        year=2025,
        severity="critical",
        summary="Qingdao is off its plan",
        description="…",
    )
    assert c.labels["district_code"] == "city"
    assert (
        canonical_identity(CITY_OFF_TRACK, None, "C1", 2025)
        == '{"alertname":"CityOffTrack","district_code":"city","rule_id":"C1","year":2025}'
    )
    assert c.scope == "city" and behind().scope == "district"


def test_labels_and_annotations():
    a = behind()
    assert a.labels == {
        "alertname": "DistrictBehind",
        "district_code": "370203",
        "rule_id": "C5",
        "severity": "major",
        "year": "2025",
        "service": "junheng",
    }
    notes = a.annotations
    assert {"summary", "description", "rule_id", "clause", "fix", "alert_id", "district"} <= set(notes)
    assert notes["alert_id"] == a.alert_id and notes["rule_id"] == "C5"


def test_alert_round_trips_through_json_and_rejects_a_forged_id():
    a = behind().fired(at(0))
    back = Alert.from_dict(json.loads(json.dumps(a.to_dict())))
    assert back == a
    forged = a.to_dict() | {"alert_id": "0" * 64}
    with pytest.raises(ValueError):
        Alert.from_dict(forged)
    with pytest.raises(ValueError):
        behind(severity="warning")


# ---------------------------------------------------------------------- the state machine
def test_fire_then_repeat_is_deduplicated_then_resolve():
    book = AlertBook()
    c5, c7 = behind(), behind(rule="C7")

    first = book.evaluate([c5, c7], at(0))
    assert [a.rule_id for a in first.fired] == ["C5", "C7"] and not first.repeated and not first.resolved
    assert all(a.state == FIRING and a.starts_at == at(0) and a.ends_at is None for a in first.fired)

    # the same conditions again (one with new wording): nothing emitted, only refreshed
    second = book.evaluate([behind(summary="only 1 of 4 (25%)"), c7, c5], at(60))
    assert not second.fired and not second.resolved and not second.changed
    assert {a.rule_id for a in second.repeated} == {"C5", "C7"}
    kept = book.get(c5.alert_id)
    assert kept.starts_at == at(0) and kept.last_seen_at == at(60) and "1 of 4" in kept.summary

    # C5 is no longer true: resolved, with ends_at; C7 repeats
    third = book.evaluate([c7], at(120))
    assert [a.rule_id for a in third.resolved] == ["C5"] and [a.rule_id for a in third.repeated] == ["C7"]
    gone = book.get(c5.alert_id)
    assert gone.state == RESOLVED and gone.starts_at == at(0) and gone.ends_at == at(120)
    assert [a.rule_id for a in book.firing()] == ["C7"]

    # nothing true any more: C7 resolved; a second empty evaluation changes nothing
    assert [a.rule_id for a in book.evaluate([], at(180)).resolved] == ["C7"]
    assert not book.evaluate([], at(240)).changed

    # C5 true again: a new episode (new starts_at, so a new history row / event id)
    again = book.evaluate([c5], at(300))
    assert [a.rule_id for a in again.fired] == ["C5"] and again.fired[0].starts_at == at(300)
    e1 = alert_event(first.fired[0], evaluated_at=at(0), run_id="r1", as_of=None)
    e2 = alert_event(again.fired[0], evaluated_at=at(300), run_id="r2", as_of=None)
    assert e1["alert_id"] == e2["alert_id"] and e1["event_id"] != e2["event_id"]


def test_only_covered_alerts_are_resolved():
    book = AlertBook()
    marts_alert, stream_alert = behind(), behind(rule="ATTAINMENT", name="DistrictAttainmentLost", source=STREAM)
    book.evaluate([marts_alert, stream_alert], at(0))
    # a stream-only evaluation with nothing lost: the marts alert is untouched
    changes = book.evaluate([], at(10), covers=covers_sources(STREAM))
    assert [a.alert_id for a in changes.resolved] == [stream_alert.alert_id]
    assert book.get(marts_alert.alert_id).state == FIRING
    # the marts source unreadable: it covers nothing, nothing is resolved
    assert not book.evaluate([], at(20), covers=covers_sources()).resolved


def test_duplicate_conditions_count_once():
    book = AlertBook()
    changes = book.evaluate([behind(), behind(summary="other words")], at(0))
    assert len(changes.fired) == 1 and len(book) == 1


def test_book_persists_as_json_and_continues_where_it_stopped(tmp_path):
    path = tmp_path / "alerts" / "state.json"
    book = AlertBook()
    book.evaluate([behind(), behind(rule="C7")], at(0))
    book.memory["attainment"] = {"370202|2025": {"last": False, "lost": True}}
    book.enqueue("webhook", [{"event_id": "e1"}, {"event_id": "e2"}, {"event_id": "e1"}])
    save_book(book, path)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text)["version"] == 1 and not list(path.parent.glob(".*tmp"))

    again = load_book(path)
    assert again.to_dict() == book.to_dict()
    assert [e["event_id"] for e in again.pending("webhook")] == ["e1", "e2"]
    changes = again.evaluate([behind()], at(60))
    assert [a.rule_id for a in changes.repeated] == ["C5"] and [a.rule_id for a in changes.resolved] == ["C7"]
    assert load_book(tmp_path / "missing.json").to_dict()["alerts"] == {}


def test_outbox_delivery_and_bound():
    from junheng.alerting import book as book_module

    book = AlertBook()
    book.enqueue("kafka", [{"event_id": f"e{i}"} for i in range(3)])
    book.delivered("kafka", ["e0", "e2"])
    assert [e["event_id"] for e in book.pending("kafka")] == ["e1"]
    book.delivered("kafka", ["e1"])
    assert book.pending("kafka") == [] and "kafka" not in book.outbox
    dropped = book.enqueue("webhook", [{"event_id": f"x{i}"} for i in range(book_module.MAX_OUTBOX + 5)])
    assert dropped == 5 and len(book.pending("webhook")) == book_module.MAX_OUTBOX
    assert book.pending("webhook")[0]["event_id"] == "x5" and book.dropped["webhook"] == 5


def test_resolved_alerts_are_pruned_after_the_retention():
    book = AlertBook()
    book.evaluate([behind()], at(0))
    book.evaluate([], at(10))
    assert book.prune(at(10) + dt.timedelta(days=6)) == 0
    assert book.prune(at(10) + dt.timedelta(days=8)) == 1 and len(book) == 0
