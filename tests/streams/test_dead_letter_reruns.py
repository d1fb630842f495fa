"""Re-running a file never lands its dead letters twice (issue #12: 66 -> 132 rows): a dead letter
is identified by its reason code and bytes (`DeadLetter.id`), and the embedded driver lands only
the ones not landed before. The run still counts them (read = applied + duplicate + stale +
dead_lettered) and says how many it did not land again."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.synthetic import generate_city
from streams.embedded import EmbeddedRunner
from streams.landing import LandingWriter
from streams.processing import DeadLetter


def _landed(warehouse: Path) -> list[tuple[str, str]]:
    return (
        duckdb.connect()
        .execute(
            f"select dead_letter_id, reason_code from read_parquet('{warehouse}/landing/dead_letters/*.parquet') "
            f"order by all"
        )
        .fetchall()
    )


def test_running_the_same_file_twice_lands_its_dead_letters_once(tmp_path: Path) -> None:
    city = generate_city(seed=11, schools=40, bad_fraction=0.05)
    events = tmp_path / "city.jsonl"
    city.write_jsonl(events)
    warehouse = tmp_path / "wh"
    first = EmbeddedRunner(warehouse).run([events])
    landed = _landed(warehouse)
    assert first.counts.dead_lettered == city.manifest["bad_total"] == len(landed) > 0
    assert first.counts.dead_lettered_again == 0

    again = EmbeddedRunner(warehouse).run([events])
    assert again.balanced() and again.counts.read == len(city.lines)
    assert again.counts.dead_lettered == city.manifest["bad_total"]  # still read and refused ...
    assert again.counts.dead_lettered_again == city.manifest["bad_total"]  # ... but not landed again
    assert _landed(warehouse) == landed
    assert again.as_dict()["dead_lettered_again"] == city.manifest["bad_total"]

    copy = tmp_path / "copy.jsonl"  # the same lines under another name are the same dead letters
    copy.write_bytes(events.read_bytes())
    EmbeddedRunner(warehouse).run([copy])
    assert _landed(warehouse) == landed


def test_dead_letters_landed_before_they_had_ids_are_recognised(tmp_path: Path) -> None:
    """A warehouse landed by an older version has no dead_letter_id column: the ids are computed
    from the code and the text, so the first run after the upgrade lands nothing twice."""
    events = tmp_path / "bad.jsonl"
    events.write_bytes(b'not json\n{"event_id": 1}\n')
    warehouse = tmp_path / "wh"
    EmbeddedRunner(warehouse).run([events])
    path = next((warehouse / "landing" / "dead_letters").glob("part-*.parquet"))
    rows = (
        duckdb.connect()
        .execute(f"select * exclude (dead_letter_id, landed_batch, landed_pos, landed_at) from read_parquet('{path}')")
        .fetchall()
    )
    path.unlink()  # as an old version landed it: no id column
    old = LandingWriter(warehouse / "landing", writer_id="embedded")
    legacy = old.schemas["dead_letters"].remove(0)
    old.schemas["dead_letters"] = legacy
    old.write("dead_letters", [dict(zip(legacy.names, r, strict=True)) for r in rows], batch=0)
    again = EmbeddedRunner(warehouse).run([events])
    assert again.counts.dead_lettered == again.counts.dead_lettered_again == 2
    assert duckdb.connect().execute(
        f"select count(*) from read_parquet('{warehouse}/landing/dead_letters/*.parquet', union_by_name = true)"
    ).fetchone() == (2,)


def test_a_dead_letter_id_is_its_code_and_bytes() -> None:
    a = DeadLetter(b"x", "not_json", "not valid JSON", {"file": "a", "line": 1})
    assert a.id == DeadLetter(b"x", "not_json", "other words", {"file": "b", "line": 9}).id
    assert a.id != DeadLetter(b"x", "schema", "not valid JSON", {"file": "a", "line": 1}).id
    assert a.id != DeadLetter(b"y", "not_json", "not valid JSON", {"file": "a", "line": 1}).id
    assert a.to_row()["dead_letter_id"] == a.id and len(a.id) == 32
