"""`junheng dlq` on the real embedded driver and DuckDB: a district missing from the district list
dead-letters its events `unknown_district`; the list is fixed; the replay applies each once, marks
the dead letters replayed (not open), and the marts build. Discard keeps its reason; a replay
refused again stays open; a warehouse fed by the Kafka worker is refused."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import factories as f
import pytest

from ingestion.reference import districts_csv
from junheng.cli import main
from streams.dead_letters import read_dead_letters
from streams.embedded import EmbeddedRunner


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and out.strip() else out), err


def _events(tmp_path: Path, events: list[dict[str, Any]], name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def _without(tmp_path: Path, code: str) -> Path:
    """The packaged district list without `code`: its events are then dead-lettered."""
    with districts_csv().open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    path = tmp_path / "districts-short.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["district_code"] != code)
    return path


def _landed_event_ids(warehouse: Path) -> list[str]:
    return [
        r[0]
        for r in duckdb.connect()
        .execute(f"select event_id from read_parquet('{warehouse}/landing/events/*.parquet') order by all")
        .fetchall()
    ]


@pytest.mark.slow
def test_a_missing_district_is_fixed_and_its_dead_letters_replay_once(tmp_path, monkeypatch, capsys):
    from junheng.build import build

    events = f.good_district(schools=2)
    path = _events(tmp_path, events)
    wh = tmp_path / "wh"
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(_without(tmp_path, f.DISTRICT)))
    first = EmbeddedRunner(wh).run([path])
    assert first.balanced() and first.counts.dead_lettered == len(events) and first.counts.applied == 0
    assert first.counts.reasons == {"unknown_district": len(events)}

    code, listed, _ = _cli(capsys, "dlq", "list", "--warehouse", str(wh), "--district", f.DISTRICT, "--json")
    assert code == 0 and listed["count"] == len(events) and listed["by_reason"] == {"unknown_district": len(events)}
    assert {d["status"] for d in listed["dead_letters"]} == {"open"}

    monkeypatch.delenv("JUNHENG_DISTRICTS")  # the fix: the packaged list names the district
    code, replayed, _ = _cli(
        capsys,
        "dlq",
        "replay",
        "--reason",
        "unknown_district",
        "--warehouse",
        str(wh),
        "--note",
        "370202 added to the list",
        "--json",
    )
    assert code == 0, replayed
    c = replayed["counts"]
    assert replayed["replayed"] == len(events) and replayed["outcomes"] == {"applied": len(events)}
    assert c["read"] == c["applied"] == len(events) and c["balanced"] and c["dead_lettered"] == 0
    assert _landed_event_ids(wh) == sorted(e["event_id"] for e in events)  # once each

    code, listed, _ = _cli(capsys, "dlq", "list", "--warehouse", str(wh), "--json")
    assert code == 0 and listed["count"] == 0  # none open any more
    code, listed, _ = _cli(capsys, "dlq", "list", "--warehouse", str(wh), "--status", "replayed", "--json")
    assert listed["count"] == len(events)
    one = listed["dead_letters"][0]["id"]
    code, shown, _ = _cli(capsys, "dlq", "show", one[:10], "--warehouse", str(wh), "--json")
    assert shown["status"] == "replayed" and shown["actions"][-1]["outcome"] == "applied"
    assert shown["actions"][-1]["note"] == "370202 added to the list"

    # never twice: replaying again finds nothing open, and running the file again is all duplicates
    code, again, _ = _cli(capsys, "dlq", "replay", "--all", "--warehouse", str(wh), "--json")
    assert code == 0 and again["replayed"] == 0 and again["counts"]["read"] == 0
    rerun = EmbeddedRunner(wh).run([path])
    assert rerun.counts.duplicate == len(events) and rerun.counts.dead_lettered == 0
    assert _landed_event_ids(wh) == sorted(e["event_id"] for e in events)
    assert len(read_dead_letters(wh)) == len(events)

    result = build(wh, as_of=dt.date(2026, 6, 30))
    with duckdb.connect(str(result.database), read_only=True) as con:
        rows = con.execute(
            "select year, attained from main.mart_district_attainment where district_code = ?", [f.DISTRICT]
        ).fetchall()
    assert rows == [(2023, True)]
    with duckdb.connect(str(wh / "work" / "junheng.duckdb"), read_only=True) as con:  # staging: the same status
        assert con.execute("select status, count(*) from staging.stg_dead_letters group by 1").fetchall() == [
            ("replayed", len(events))
        ]


def test_replayed_records_refused_again_stay_open_and_discards_keep_their_reason(tmp_path, monkeypatch, capsys):
    good = f.good_district(schools=1)
    path = _events(tmp_path, good)
    (tmp_path / "garbage.jsonl").write_bytes(b"not json at all\n")
    wh = tmp_path / "wh"
    short = _without(tmp_path, f.DISTRICT)
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(short))
    EmbeddedRunner(wh).run([path, tmp_path / "garbage.jsonl"])

    # not fixed yet: the replay refuses them again, for the same reason; they stay open, landed once
    code, replayed, _ = _cli(
        capsys, "dlq", "replay", "--district", f.DISTRICT, "--warehouse", str(wh), "--no-gx", "--json"
    )
    assert code == 3 and replayed["still_open"] == len(good) == replayed["counts"]["dead_lettered"]
    assert replayed["counts"]["dead_lettered_again"] == len(good)
    letters = read_dead_letters(wh)
    assert len(letters) == len(good) + 1 and all(d.landings == 1 for d in letters)
    assert all(d.status == "open" for d in letters)

    code, out, _ = _cli(
        capsys, "dlq", "discard", "--reason", "not_json", "--note", "a test line", "--warehouse", str(wh), "--json"
    )
    assert code == 0 and out["discarded"] == 1
    code, listed, _ = _cli(capsys, "dlq", "list", "--status", "discarded", "--warehouse", str(wh), "--json")
    assert listed["count"] == 1
    code, shown, _ = _cli(capsys, "dlq", "show", listed["dead_letters"][0]["id"], "--warehouse", str(wh), "--json")
    assert shown["status"] == "discarded" and shown["actions"] == [
        {**shown["actions"][0], "action": "discarded", "note": "a test line", "resolved": True}
    ]
    code, again, _ = _cli(capsys, "dlq", "replay", "--reason", "not_json", "--warehouse", str(wh), "--json")
    assert again["replayed"] == 0  # a discarded one is not replayed

    monkeypatch.delenv("JUNHENG_DISTRICTS")
    code, replayed, _ = _cli(capsys, "dlq", "replay", "--all", "--warehouse", str(wh), "--no-gx", "--json")
    assert code == 0 and replayed["outcomes"] == {"applied": len(good)}
    assert {d.status for d in read_dead_letters(wh)} == {"replayed", "discarded"}


def test_dlq_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    wh = tmp_path / "wh"
    (tmp_path / "bad.jsonl").write_bytes(b"nope\n")
    EmbeddedRunner(wh).run([tmp_path / "bad.jsonl"])
    for argv, says in (
        (["dlq", "list", "--warehouse", str(tmp_path / "nowhere")], "no warehouse at"),
        (["dlq", "show", "abc", "--warehouse", str(wh)], "too short"),
        (["dlq", "show", "ffffffffff", "--warehouse", str(wh)], "no dead letter"),
        (["dlq", "replay", "--warehouse", str(wh)], "name the dead letters"),
        (["dlq", "list", "--since", "2026-13-01", "--warehouse", str(wh)], "is not a time"),
        (["dlq", "discard", "ffffffffffff", "--note", "x", "--warehouse", str(wh)], "no dead letter"),
    ):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_a_warehouse_fed_by_the_kafka_worker_is_not_replayed_embedded(tmp_path, capsys):
    from streams.landing import LandingWriter
    from streams.processing import DeadLetter

    wh = tmp_path / "wh"
    landing = LandingWriter(wh / "landing", writer_id="worker-1")
    landing.write(
        "events",
        [
            {
                "event_id": "x",
                "event_type": "district.registered",
                "schema_version": 1,
                "occurred_at": "2023-01-01T00:00:00+08:00",
                "source": "t",
                "district_code": "370202",
                "year": 2023,
                "seq": 0,
                "payload": "{}",
            }
        ],
        batch=0,
    )
    dl = DeadLetter(b"nope", "not_json", "bad", {"topic": "t.events", "partition": 0, "offset": 3})
    landing.write("dead_letters", [dl.to_row(), dl.to_row()], batch=1)  # re-delivered: landed twice
    code, listed, _ = _cli(capsys, "dlq", "list", "--warehouse", str(wh), "--json")
    assert listed["count"] == 1 and listed["dead_letters"][0]["origin"]["offset"] == 3
    code = main(["dlq", "replay", "--all", "--warehouse", str(wh)])
    err = capsys.readouterr().err
    assert code == 2 and "fed by the Kafka worker (worker-1)" in err


def test_a_replay_refused_for_another_reason_hands_over_to_a_new_dead_letter(tmp_path, monkeypatch, capsys):
    """Fixed list, but the record is implausible (the GX suites refuse it): the old dead letter is
    resolved into a new one, open, whose origin names the one it came from; counted once."""
    sid = "3702021234"
    events = [
        f.district_registered(),
        f.registered(sid, "primary"),
        f.enrolment(sid, {"primary": (900, 20)}),
        f.enrolment(sid, {"primary": (9000, 100)}, seq=1),
    ]  # schema-valid, implausible
    path = _events(tmp_path, events)
    wh = tmp_path / "wh"
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(_without(tmp_path, f.DISTRICT)))
    EmbeddedRunner(wh).run([path])
    monkeypatch.delenv("JUNHENG_DISTRICTS")
    code, replayed, _ = _cli(capsys, "dlq", "replay", "--all", "--warehouse", str(wh), "--json")
    assert code == 0 and replayed["counts"]["applied"] == 3 and replayed["counts"]["dead_lettered"] == 1
    assert replayed["outcomes"] == {"applied": 3, "dead_lettered_as": 1} and replayed["still_open"] == 0
    letters = {d.id: d for d in read_dead_letters(wh)}
    assert len(letters) == 5
    new = [d for d in letters.values() if d.status == "open"]
    assert len(new) == 1 and new[0].code == "gx" and new[0].origin["replay_of"] in letters
    old = letters[new[0].origin["replay_of"]]
    assert old.status == "replayed" and old.actions[-1].outcome == f"dead_lettered_as:{new[0].id} (gx)"


@pytest.mark.parametrize("after", [2, 6], ids=["first-batch", "second-batch"])
def test_a_replay_that_fails_midway_is_rolled_back_whole(tmp_path, monkeypatch, after):
    """All or nothing: a full disk in the replay's first or second landing batch leaves the landing (events,
    dead letters, actions) and the states as they were, every dead letter open; the replay run
    again applies each record once."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    from faults import install_landing_fault

    from streams.dead_letters import replay

    events = f.good_district(schools=2)
    path = _events(tmp_path, events)
    wh = tmp_path / "wh"
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(_without(tmp_path, f.DISTRICT)))
    EmbeddedRunner(wh).run([path])
    monkeypatch.delenv("JUNHENG_DISTRICTS")
    before = {p: p.read_bytes() for p in sorted((wh / "landing").rglob("*")) if p.is_file()}
    state_before = {p: p.read_bytes() for p in sorted((wh / "state").glob("*"))}

    with monkeypatch.context() as patched:
        install_landing_fault(after, patched.setattr)  # part-way through file after+1 of the replay
        runner = EmbeddedRunner(wh, batch_size=5)
        with pytest.raises(OSError, match="No space left on device"):
            replay(runner, read_dead_letters(wh))
    assert runner.landing._files_started == after + 1
    assert {p: p.read_bytes() for p in sorted((wh / "landing").rglob("*")) if p.is_file()} == before
    assert {p: p.read_bytes() for p in sorted((wh / "state").glob("*"))} == state_before
    assert {d.status for d in read_dead_letters(wh)} == {"open"}

    done = replay(EmbeddedRunner(wh, batch_size=5), read_dead_letters(wh))
    assert done.summary.counts.applied == len(events) and set(done.outcomes.values()) == {"applied"}
    assert _landed_event_ids(wh) == sorted(e["event_id"] for e in events)
    assert {d.status for d in read_dead_letters(wh)} == {"replayed"}
