"""What if (issue #13, item 4): hypothetical events judged on a copy of the warehouse's states;
what would change is reported and nothing of the warehouse changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import factories as f
import pytest

from streams.embedded import EmbeddedRunner
from streams.whatif import what_if

AS_OF = dt.date(2026, 6, 30)


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events = f.good_district(2023, schools=4)
    wh = tmp_path_factory.mktemp("whatif") / "wh"
    path = wh.parent / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    assert EmbeddedRunner(wh).run([path]).counts["applied"] == len(events)
    return wh


def _poor_school() -> list[dict]:
    sid = "3702020009"
    return [
        f.registered(sid, "primary"),
        f.enrolment(sid, {"primary": (900, 20)}),
        f.staff(sid, {"primary": f.staff_section(full_time=40, qualified=5, backbone=1, pe_arts=2)}),
        f.facilities(sid, school=f.facility(900.0, 1800.0, 900_000.0, 5)),
        f.finance(sid),
    ]


def test_a_poor_new_school_would_fail_its_section_and_the_district(warehouse: Path) -> None:
    before = _tree(warehouse)
    result = what_if(warehouse, events=_poor_school(), as_of=AS_OF)
    assert result.counts == {"read": 5, "applied": 5, "duplicate": 0, "stale": 0, "dead_lettered": 0}
    [section] = result.changes["sections"]
    assert (section["school_id"], section["section"], section["passed"]) == ("3702020009", "primary", [None, False])
    [district] = result.changes["districts"]
    assert district["attained"] == [True, False] and "RA-S" in district["failed_items"][1]
    [acc] = result.changes["accountability"]  # now also behind its declared year (2023)
    assert acc["year"] == 2023 and any(r.startswith("DCY") for r in acc["behind_reasons"])
    assert _tree(warehouse) == before  # nothing landed, nothing saved


def test_a_kafka_warehouse_without_state_files_gives_the_same_answer(warehouse: Path, tmp_path: Path) -> None:
    kafka_like = tmp_path / "wh"
    shutil.copytree(warehouse, kafka_like)
    shutil.rmtree(kafka_like / "state")  # the worker keeps its states in Kafka: replay the landing
    embedded = what_if(warehouse, events=_poor_school(), as_of=AS_OF)
    replayed = what_if(kafka_like, events=_poor_school(), as_of=AS_OF)
    assert replayed.as_dict() == embedded.as_dict()


def test_what_the_contract_rejects_is_reported_and_changes_nothing(warehouse: Path) -> None:
    bad = f.staff("3702020001", {"primary": f.staff_section(full_time=10, qualified=50)}, seq=7)  # 50 of 10
    result = what_if(warehouse, events=[bad], as_of=AS_OF)
    assert result.counts["dead_lettered"] == 1 and result.dead_letters[0]["reason"].startswith("impossible_value")
    assert result.changes == {"sections": [], "districts": [], "accountability": [], "city": []}
