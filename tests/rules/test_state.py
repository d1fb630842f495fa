"""The district state machine: idempotence, versions, retraction, what it reports, and its
plain-data form."""

from __future__ import annotations

import datetime as dt
import json

import factories as f
import pytest

from rules.batch import evaluate_district
from rules.state import APPLIED, DUPLICATE, REJECTED, STALE, DistrictState

YEAR = 2023


def _good(engine):
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        assert state.apply(e).outcome == APPLIED
    return state


def test_a_repeated_event_changes_nothing(engine):
    state = _good(engine)
    e = f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=1)}, seq=5)
    assert state.apply(e).outcome == APPLIED
    before = json.dumps(state.to_state(), sort_keys=True, default=str), state.summary(YEAR)
    result = state.apply(dict(e))
    assert result.outcome == DUPLICATE and result.changes is None
    assert (json.dumps(state.to_state(), sort_keys=True, default=str), state.summary(YEAR)) == before


def test_a_late_lower_seq_is_stale_and_does_not_overwrite(engine):
    state = _good(engine)
    newer = f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=1)}, seq=7)
    older = f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=60)}, seq=6)
    assert state.apply(newer).outcome == APPLIED
    summary = state.summary(YEAR)
    result = state.apply(older)
    assert result.outcome == STALE and "seq 6 older than applied 7" in result.reason
    assert state.summary(YEAR) == summary
    assert state.schools["3702020000"].facts[YEAR].staff["sections"]["primary"]["qualified_teachers"] == 1
    # the stale event re-sent is recognised as a duplicate of what was already seen
    assert state.apply(older).outcome == DUPLICATE


def test_same_seq_different_event_is_a_conflict_not_an_update(engine):
    state = _good(engine)
    e = f.staff("3702020000", {"primary": f.staff_section()}, seq=0)
    result = state.apply(e)
    assert result.outcome == REJECTED and result.reason.startswith("seq_conflict")


def test_unknown_school_and_wrong_district_are_rejected_without_change(engine):
    state = _good(engine)
    r = state.apply(f.staff("3702029876", {"primary": f.staff_section()}))
    assert r.outcome == REJECTED and r.reason.startswith("unknown_school")
    r = state.apply(f.statistics(year=YEAR, **f.GOOD_STATISTICS) | {"district_code": "370203"})
    assert r.outcome == REJECTED and r.reason.startswith("wrong_district")
    assert "3702029876" not in state.schools


def test_an_update_reports_the_section_coefficients_and_status_that_changed(engine):
    state = _good(engine)
    # the first school loses almost all its qualified teachers: R1 fails, RA-S still passes
    # (6 of 7 met) only if R1 stays ≥ 85% — at 1 teacher it does not, so the district fails.
    r = state.apply(
        f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=1, backbone=10, pe_arts=8)}, seq=1)
    )
    assert r.changes.sections == [("3702020000", YEAR)]
    assert (YEAR, "primary", "R1") in r.changes.balances
    assert (YEAR, "primary", "R4") not in r.changes.balances  # facilities did not move
    [(year, before, after)] = r.changes.status
    assert year == YEAR and before.attained is True and after.attained is False
    assert "RA-S" in after.failed_items
    # putting it back restores attainment: the old contribution was retracted, not left behind
    r = state.apply(f.good_primary_school("3702020000", students=800)[2] | {"seq": 2, "event_id": "x-2"})
    assert r.changes.status[0][2].attained is True
    batch = evaluate_district(engine, f.DISTRICT, [])
    assert batch == {}


def test_a_school_that_changes_type_moves_between_levels(engine):
    state = _good(engine)
    sid = "3702020001"
    assert state.counters(YEAR)["sections:primary"] == 4
    state.apply(f.registered(sid, "junior", year=YEAR, seq=1))
    state.apply(f.enrolment(sid, {"junior": (850, 20)}, year=YEAR, seq=1))
    counters = state.counters(YEAR)
    assert counters["sections:primary"] == 3 and "sections_unknown:junior" not in counters
    assert counters["sections:junior"] == 1


def test_serialises_to_plain_data_and_back(engine):
    state = _good(engine)
    state.apply(f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=1)}, seq=1))
    plain = json.loads(json.dumps(state.to_state()))
    restored = DistrictState.from_state(engine, plain)
    assert restored.summary(YEAR) == state.summary(YEAR)
    assert restored.counters(YEAR) == state.counters(YEAR)
    assert {k: v.value for k, v in restored.balance(YEAR).items()} == {
        k: v.value for k, v in state.balance(YEAR).items()
    }
    # and it goes on: duplicates are still recognised after a restore
    e = f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=60)}, seq=2)
    assert restored.apply(e).outcome == APPLIED and restored.apply(e).outcome == DUPLICATE


def test_incremental_equals_batch_on_the_good_district(engine):
    events = f.good_district()
    events.append(f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=1)}, seq=1))
    state = engine.new_state(f.DISTRICT)
    for e in events:
        state.apply(e)
    batch = evaluate_district(engine, f.DISTRICT, events)[YEAR]
    assert batch.summary == state.summary(YEAR)
    assert batch.counters == {k: v for k, v in state.counters(YEAR).items() if v}
    for pair, result in state.balance(YEAR).items():
        assert result.value == pytest.approx(batch.cv[pair], rel=1e-12)


def test_pre2_history_when_the_jurisdiction_turns_it_on(tmp_path):
    import yaml

    from rules import load_catalogue
    from rules.state import Engine

    path = tmp_path / "strict.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "catalogue": "strict",
                "version": "1",
                "extends": "qingdao-2021",
                "settings": {"pre2_enabled": True},
                "rules": [],
            }
        ),
        encoding="utf-8",
    )
    engine = Engine(load_catalogue(path))
    state = engine.new_state(f.DISTRICT)
    for y in (2020, 2021, 2022, 2023):
        for e in f.good_district(year=y):
            state.apply(e)
    assert state.results(2023)["PRE-2"].passed is True
    # a very unequal 2021 (rooms, grounds and equipment) pushes the average CV above 0.60
    for i, k in enumerate((0.01, 100.0)):
        sid = f"37020277{i:02d}"
        for e in f.good_primary_school(sid, year=2021):
            state.apply(e)
        state.apply(f.facilities(sid, school=f.facility(5000.0 * k, 8000.0 * k, 2_250_000.0 * k, 30), year=2021, seq=1))
    res = state.results(2023)["PRE-2"]
    assert res.passed is False and res.inputs["2021/primary"] > 0.6


def test_accountability_declared_year_targets_and_calendar(engine):
    state = _good(engine)
    for kind, on in (
        ("self_assessment", "2023-12-20"),
        ("city_assessment", "2024-03-30"),
        ("recognition_application", "2024-06-15"),
    ):
        state.apply(f.milestone(kind, on, year=YEAR))
    acc = state.accountability(YEAR, dt.date(2024, 7, 1))
    assert acc.attained is True and acc.declared_creation_year == 2023
    assert acc.deadlines["D1"].passed is True and acc.deadlines["D2"].passed is True
    assert acc.deadlines["D3"].passed is False
    assert acc.on_track is False
    assert any(r.startswith("D3:") for r in acc.behind_reasons)
    # before the deadline, a missing milestone is not yet a miss
    early = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        early.apply(e)
    acc = early.accountability(YEAR, dt.date(2023, 11, 1))
    assert acc.deadlines["D1"].passed is None and acc.on_track is True


def test_a_district_that_fails_in_its_declared_year_is_behind(engine):
    state = _good(engine)
    state.apply(f.inspection("key_schools", "fail", year=YEAR, seq=1))
    acc = state.accountability(YEAR, dt.date(2023, 12, 1))
    assert acc.on_track is False
    assert acc.behind_reasons[0] == "DCY: not attained by its declared creation year 2023"


def test_city_progress_against_the_30_and_100_percent_track(engine):
    from rules.city import DistrictYear, city_progress

    districts = [DistrictYear(f"37020{i}", attained=i < 3) for i in range(10)]
    p = city_progress(engine.catalogue, 2023, districts, projects_by_year={2021: 25, 2022: 18, 2023: 20})
    assert p.attained_share == 0.3 and p.target_share == 0.3 and p.on_track is True
    assert p.targets["C4"].passed is True and p.targets["C4"].value == 21
    p = city_progress(engine.catalogue, 2025, districts)
    assert p.target_share == 1.0 and p.on_track is False
    undecided = [DistrictYear(f"37020{i}", attained=None if i >= 2 else True) for i in range(10)]
    assert city_progress(engine.catalogue, 2023, undecided).on_track is None


def test_an_event_id_resent_in_upper_case_is_still_a_duplicate(engine):
    state = _good(engine)
    e = f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=50)}, seq=3)
    assert state.apply(e).outcome == APPLIED
    assert state.apply(dict(e, event_id=e["event_id"].upper())).outcome == DUPLICATE


# ------------------------------------------------------------------ event ids (issue #14, items 4, 5)
def _staff_version(seq: int, qualified: int, event_id: str | None = None):
    return f.staff(
        "3702020000", {"primary": f.staff_section(full_time=80, qualified=qualified)}, seq=seq, event_id=event_id
    )


def test_an_event_id_reused_on_another_fact_is_a_conflict_and_changes_nothing(engine):
    """docs/events.md: a known id changes nothing. The same id on another fact used to be applied
    (a second landed row under one id, and an attainment flipped)."""
    events = f.good_district()
    state = engine.new_state(f.DISTRICT)
    assert [state.apply(e).outcome for e in events] == [APPLIED] * len(events)
    used = events[3]  # an applied event of the first school
    reuse = f.staff(
        "3702020001", {"primary": f.staff_section(full_time=80, qualified=1)}, seq=9, event_id=used["event_id"]
    )
    before = json.dumps(state.to_state(), sort_keys=True, default=str), state.summary(YEAR)
    result = state.apply(reuse)
    assert result.outcome == REJECTED and result.reason.startswith("event_id_conflict")
    assert used["event_id"] in result.reason
    assert (json.dumps(state.to_state(), sort_keys=True, default=str), state.summary(YEAR)) == before
    # also an id that is only remembered as a superseded version of another fact
    assert state.apply(_staff_version(1, 40, event_id="aaaaaaaa-0000-4000-8000-000000000001")).outcome == APPLIED
    assert state.apply(_staff_version(2, 41, event_id="aaaaaaaa-0000-4000-8000-000000000002")).outcome == APPLIED
    other_fact = f.finance("3702020001", seq=5, event_id="AAAAAAAA-0000-4000-8000-000000000001")
    result = state.apply(other_fact)
    assert result.outcome == REJECTED and result.reason.startswith("event_id_conflict")


def test_seen_ids_are_bounded_per_fact_and_a_flood_of_stale_versions_stays_linear(catalogue):
    from rules.state import Engine

    engine = Engine(catalogue, seen_window=4)
    state = _good(engine)
    assert state.apply(_staff_version(10**6, 50, "bbbbbbbb-0000-4000-8000-000000000000")).outcome == APPLIED
    stale = [_staff_version(n, 1, f"bbbbbbbb-0000-4000-8000-{n:012d}") for n in range(1, 2001)]
    outcomes = [state.apply(e).outcome for e in stale]
    assert outcomes == [STALE] * len(stale)
    key = next(k for k in state.versions if k.startswith("school.staff|3702020000"))
    seq, applied, seen = state.versions[key]
    assert seq == 10**6 and len(seen) == 4 and list(seen) == [e["event_id"] for e in stale[-4:]]
    # the index holds exactly the remembered ids: no stale id leaks into state forever
    assert sorted(i for i, k in state.event_ids.items() if k == key) == sorted([applied, *seen])
    # a recent stale version re-sent is a duplicate; an old one is stale again: neither changes anything
    assert state.apply(stale[-1]).outcome == DUPLICATE
    assert state.apply(stale[0]).outcome == STALE
    # and the window survives a restore, trimmed to the engine's
    restored = DistrictState.from_state(Engine(catalogue, seen_window=2), json.loads(json.dumps(state.to_state())))
    assert list(restored.versions[key][2]) == list(state.versions[key][2])[-2:]  # stale[-1], then stale[0]
    assert restored.apply(stale[0]).outcome == DUPLICATE
    assert (
        restored.apply(
            dict(stale[3], event_id="cccccccc-0000-4000-8000-000000000000", district_code=f.DISTRICT)
        ).outcome
        == STALE
    )


def test_a_restored_state_leaves_a_year_it_had_not_judged_unjudged(engine):
    """A district registered before any of its schools: nothing is judged yet, the year's first
    status comes with its next event. A state saved then and read back must land that first status
    too, not judge the year on reading (a stream cut into two runs there lost those rows)."""
    events = f.good_district()
    registered = [e for e in events if e["event_type"] == "district.registered"]
    rest = [e for e in events if e["event_type"] != "district.registered"]
    live = engine.new_state(f.DISTRICT)
    _, changes = live.apply_batch(registered)
    assert changes.status == [] and live.summary(YEAR) is None
    restored = DistrictState.from_state(engine, json.loads(json.dumps(live.to_state())))
    assert restored.summary(YEAR) is None
    _, live_changes = live.apply_batch(rest)
    _, restored_changes = restored.apply_batch(rest)
    assert live_changes.status[0][:2] == (YEAR, None)  # the year's first status
    assert restored_changes.status == live_changes.status
    assert restored.to_state() == live.to_state()
