"""The embedded driver end to end: every event accounted for, landing files dbt can read,
idempotent re-runs, and the `junheng run --json` contract."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestion.synthetic import generate_city
from streams.embedded import EmbeddedRunner


@pytest.fixture(scope="module")
def city():
    return generate_city(seed=7, schools=120, bad_fraction=0.03, duplicate_fraction=0.03, stale_fraction=0.03)


@pytest.fixture(scope="module")
def events_file(city, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("events") / "city.jsonl"
    city.write_jsonl(path)
    return path


@pytest.fixture(scope="module")
def first_run(events_file, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("wh")
    runner = EmbeddedRunner(warehouse)
    return warehouse, runner, runner.run([events_file])


def test_every_event_is_accounted_for_and_matches_what_the_generator_planted(city, first_run):
    _, _, summary = first_run
    c = summary.as_dict()
    assert summary.balanced()
    assert c["read"] == len(city.lines)
    assert c["applied"] == city.manifest["valid_unique"]
    assert c["duplicate"] == city.manifest["duplicates"]
    assert c["stale"] == city.manifest["stale"]
    assert c["dead_lettered"] == city.manifest["bad_total"]
    assert c["dead_letter_reasons"]["unknown_district"] == city.manifest["bad"]["unknown_district"]
    assert c["dead_letter_reasons"]["unknown_school"] == city.manifest["bad"]["unknown_school"]
    assert c["dead_letter_reasons"]["oversized"] == city.manifest["bad"]["oversized"]


def test_landing_files_are_complete_parquet_that_duckdb_reads(first_run, city):
    warehouse, runner, summary = first_run
    landing = warehouse / "landing"
    assert not list(landing.rglob("*.tmp")), "no half-written file may be left behind"
    con = duckdb.connect()
    applied = con.execute(f"select count(*) from read_parquet('{landing}/events/*.parquet')").fetchone()[0]
    assert applied == summary.counts["applied"]
    dead = con.execute(f"select count(*) from read_parquet('{landing}/dead_letters/*.parquet')").fetchone()[0]
    assert dead == summary.counts["dead_lettered"]
    latest = con.execute(f"""
        select district_code, year, attained from (
          select *, row_number() over (partition by district_code, year
                                       order by landed_batch desc, landed_pos desc) as rn
          from read_parquet('{landing}/district_status/*.parquet')) where rn = 1""").fetchall()
    states = runner.states
    assert latest
    for code, year, attained in latest:
        assert states[code].summary(year).attained == attained


def test_a_second_run_of_the_same_files_applies_nothing(first_run, events_file, city):
    warehouse, _, _ = first_run
    again = EmbeddedRunner(warehouse).run([events_file]).as_dict()
    assert again["applied"] == 0 and again["stale"] == 0
    assert again["duplicate"] == city.manifest["valid_unique"] + city.manifest["duplicates"] + city.manifest["stale"]
    assert again["dead_lettered"] == city.manifest["bad_total"]


def test_bad_input_corpus_is_all_dead_lettered_with_reasons(tmp_path):
    corpus = Path(__file__).parents[1] / "ingestion" / "contract" / "corpus"
    files = sorted(p for p in corpus.iterdir() if p.is_file())
    assert files, "the contract tests' bad-input corpus is missing"
    lines = tmp_path / "bad.jsonl"
    with lines.open("wb") as fh:
        for p in files:
            fh.write(p.read_bytes().replace(b"\n", b" ").strip() + b"\n")
    summary = EmbeddedRunner(tmp_path / "wh").run([lines]).as_dict()
    assert summary["read"] == summary["dead_lettered"] == len([p for p in files if p.read_bytes().strip()])
    assert summary["applied"] == 0


def test_cli_run_json_reports_the_counts(events_file, tmp_path, city):
    out = subprocess.run(
        [sys.executable, "-m", "junheng.cli", "run", str(events_file), "--warehouse", str(tmp_path / "wh"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    for key in ("read", "applied", "duplicate", "stale", "dead_lettered"):
        assert isinstance(counts[key], int)
    assert counts["read"] == counts["applied"] + counts["duplicate"] + counts["stale"] + counts["dead_lettered"]
    assert counts["read"] == len(city.lines)


def test_the_gx_suites_run_on_each_micro_batch_and_dead_letter_implausible_events(tmp_path):
    import factories as f

    sid = "3702021234"
    events = [
        f.district_registered(),
        f.registered(sid, "primary"),
        f.enrolment(sid, {"primary": (900, 20)}),
        f.enrolment(sid, {"primary": (9000, 100)}, seq=1),
    ]  # schema-valid, implausible
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    runner = EmbeddedRunner(tmp_path / "wh", gx=True)
    summary = runner.run([path]).as_dict()
    assert summary["applied"] == 3 and summary["dead_lettered"] == 1
    con = duckdb.connect()
    reason = con.execute(f"select reason from read_parquet('{tmp_path}/wh/landing/dead_letters/*.parquet')").fetchone()[
        0
    ]
    assert reason.startswith("gx:school.enrolment:") and "students" in reason
    school = runner.states[f.DISTRICT].schools[sid].facts[2023]
    assert school.enrolment["sections"]["primary"]["students"] == 900


def _normal_states(warehouse: Path) -> dict[str, Any]:
    """Every state file as plain JSON, each fact's seen ids as a set (their order after a rebuild
    is not the order of arrival: streams/file_states.py)."""
    out = {}
    for path in sorted((warehouse / "state").glob("*.json")):
        plain = json.loads(path.read_text(encoding="utf-8"))
        plain["versions"] = {k: [v[0], v[1], sorted(v[2])] for k, v in plain["versions"].items()}
        out[path.stem] = plain
    return out


@pytest.mark.parametrize("max_loaded", [None, 1])
def test_a_bug_in_the_core_dead_letters_only_its_record_and_the_run_goes_on(monkeypatch, tmp_path, max_loaded):
    """The embedded driver has the worker's per-record fallback (streams/pipeline.py): when the
    rules engine raises on one event (a bug, not bad input), that event is dead-lettered
    ``internal_error``, the run goes on and commits, and every district state ends exactly as if
    the event had never come -- also the district it belonged to, which is rebuilt from its state
    file, the batches the run had landed before, and the stale versions the run had seen. With
    one state in memory (`max_loaded` 1) the batch's districts were spilled to their staged
    files (streams/file_states.py): the fallback's rebuild forgets those copies."""
    from ingestion.reference import load_districts
    from rules import load_catalogue
    from rules.facts import fact_key_str
    from rules.state import DistrictState, Engine
    from streams.processing import Processor, Record

    batch_size = 100
    city = generate_city(
        seed=3, schools=40, years=range(2022, 2024), bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.05
    )
    first, second = city.lines[: len(city.lines) // 2], city.lines[len(city.lines) // 2 :]
    # each line's outcome, and each applied event's fact, from the processing core alone
    processor = Processor(Engine(load_catalogue()), load_districts())
    outcomes, facts = [], Counter()
    for n, line in enumerate(city.lines):
        result = processor.process([Record(line, {"line": n})])
        outcomes.append(
            (
                next(k for k in ("applied", "duplicate", "stale", "dead_lettered") if result.counts[k]),
                result.applied[0] if result.applied else None,
            )
        )
        for e in result.applied:
            facts[(e["district_code"], fact_key_str(e))] += 1
    second_outcomes = outcomes[len(first) :]
    # a school fact in the second run's third batch or later, the only version of its fact, of a
    # district that had a stale version in an earlier batch of that run
    poisoned = None
    for i in range(2 * batch_size, len(second)):
        outcome, e = second_outcomes[i]
        if outcome != "applied" or e["event_type"] not in ("school.staff", "school.enrolment", "school.finance"):
            continue
        earlier = range(i - i % batch_size)
        stale_before = any(
            second_outcomes[j][0] == "stale" and json.loads(second[j])["district_code"] == e["district_code"]
            for j in earlier
        )
        if facts[(e["district_code"], fact_key_str(e))] == 1 and stale_before:
            poisoned = (i, e)
            break
    assert poisoned is not None
    index, bad_event = poisoned

    def run(warehouse: Path, lines: list[bytes], name: str):
        path = tmp_path / f"{warehouse.name}-{name}.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        runner = EmbeddedRunner(warehouse, batch_size=batch_size, max_loaded=max_loaded)
        runners.append(runner)
        return runner.run([path])

    runners: list[EmbeddedRunner] = []

    reference = tmp_path / "reference"
    run(reference, first, "first")
    want = run(reference, second[:index] + second[index + 1 :], "second")

    original = DistrictState.apply

    def apply(self, event):
        if event["event_id"] == bad_event["event_id"]:
            raise ZeroDivisionError("boom")
        return original(self, event)

    monkeypatch.setattr(DistrictState, "apply", apply)
    faulted = tmp_path / "faulted"
    run(faulted, first, "first")
    got = run(faulted, second, "second")

    assert got.balanced() and got.counts.internal_errors == 1 and got.counts.batches > 3
    if max_loaded == 1:
        assert runners[-1].store.spills > 0 and not list((faulted / "state").glob("*.json.tmp"))
    expected = want.counts.as_dict()
    expected.update(
        read=expected["read"] + 1,
        dead_lettered=expected["dead_lettered"] + 1,
        internal_errors=1,
        dead_letter_reasons={**expected["dead_letter_reasons"], "internal_error": 1},
        batches=got.counts.batches,
    )
    assert got.counts.as_dict() == expected
    assert _normal_states(faulted) == _normal_states(reference)
    con = duckdb.connect()
    rows = con.execute(
        f"select reason_code, reason, origin from read_parquet('{faulted}/landing/dead_letters/*.parquet') "
        "where reason_code = 'internal_error'"
    ).fetchall()
    assert [(code, reason) for code, reason, _ in rows] == [
        ("internal_error", "internal_error: ZeroDivisionError: boom")
    ]
    assert json.loads(rows[0][2])["line"] == index + 1
