"""The two drivers run one pipeline (streams/pipeline.py), so the same events give the same
warehouse through either: `junheng run` (embedded) and the Kafka worker.

- the marts of a small demo city built from each driver's landing are identical, row for row
  (mart_alerts without its wall-clock and run columns, and without the rows of the worker's own
  stream alerts, which the embedded driver does not have);
- under ``JUNHENG_CATALOGUE=national-2017`` both judge every district, school and section alike,
  and both say so; and the national standard's verdicts differ from ``qingdao-2021``'s exactly where
  the city's targets apply (its ``city_target`` rules and the accountability they feed), while
  the landed verdicts of the standard itself are the same under both catalogues.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import (
    PROJECT_ROOT,
    WorkerProcess,
    _query,
    caught_up,
    delete_topics,
    end_offsets,
    judged,
    kafka_settings,
    latest_status,
    unique_prefix,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from fault_helpers import AS_OF, MartBuild, _norm, mart_differences, repr_ident  # noqa: E402

pytestmark = pytest.mark.kafka

#: mart_alerts columns that say when and in which evaluation a row was written, not what it says;
#: and fell_behind_at, the event time of the batch that made the rule fail, which is as fine as the
#: batches (one per file embedded, one per poll in the worker: docs/alerts.md, "Since when")
ALERT_CLOCK_COLUMNS = {
    "starts_at",
    "ends_at",
    "changed_at",
    "run_id",
    "event_id",
    "landed_batch",
    "landed_pos",
    "fell_behind_at",
}
#: mart_alerts' JSON columns: compared without their batch-dependent fell_behind_at annotation
ALERT_ANNOTATION_COLUMNS = {"annotations", "annotations_text"}


def _without_fell_behind(cols: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for c, v in zip(cols, row, strict=True):
        if c in ALERT_ANNOTATION_COLUMNS and isinstance(v, str):
            notes = json.loads(v)
            notes.pop("fell_behind_at", None)
            v = json.dumps(notes, ensure_ascii=False, sort_keys=True)
        out.append(v)
    return tuple(out)


def _city(seed: int) -> list[bytes]:
    from ingestion.synthetic import generate_city

    return generate_city(seed=seed, schools=150, bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02).lines


def _write(lines: list[bytes], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _junheng_run(events: Path, warehouse: Path, *extra: str, catalogue: str | None = None) -> dict[str, Any]:
    """`python -m junheng.cli run FILE --warehouse W --json ...`; its JSON line."""
    import os

    env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning")
    if catalogue:
        env["JUNHENG_CATALOGUE"] = catalogue
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "junheng.cli",
            "run",
            str(events),
            "--warehouse",
            str(warehouse),
            "--as-of",
            AS_OF,
            "--json",
            *extra,
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        timeout=600,
    )
    out = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, f"junheng run exited {done.returncode}: {out[-2000:]}\n{done.stderr.decode()[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _worker_run(kafka_bootstrap: str, lines: list[bytes], warehouse: Path, log: Path, *extra: str) -> dict[str, Any]:
    """The worker over `lines` on fresh topics, until it has done every message; its counts."""
    from ingestion.producer import create_topics, produce_lines

    prefix = unique_prefix()
    settings = kafka_settings(kafka_bootstrap, prefix)
    try:
        create_topics(settings, partitions=4)
        produce_lines(lines, settings)
        topic = settings.topic("events")
        ends = end_offsets(kafka_bootstrap, topic)
        with WorkerProcess(kafka_bootstrap, prefix, warehouse, log, batch_size=1000, extra_args=extra) as worker:
            counts = worker.wait_for(lambda c: caught_up(c, topic, ends), timeout=300, what="every message")
            assert worker.stop() == 0, worker.log_tail()
        return counts
    finally:
        delete_topics(kafka_bootstrap, prefix)


def _marts(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every main.mart_* table's rows, normalised and sorted; mart_alerts without its clock and
    run columns and without stream-alert rows (the worker's own, fired per batch)."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        marts = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where "
                "table_schema = 'main' and table_name like 'mart_%' order by 1"
            ).fetchall()
        ]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for mart in marts:
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema "
                    f"= 'main' and table_name = '{mart}' order by ordinal_position"
                ).fetchall()
            ]
            where = ""
            if mart == "mart_alerts":
                cols = [c for c in cols if c not in ALERT_CLOCK_COLUMNS]
                where = " where source is distinct from 'stream'" if "source" in cols else ""
            rows = con.execute(f"select {', '.join(repr_ident(c) for c in cols)} from main.{mart}{where}").fetchall()
            if mart == "mart_alerts":
                rows = [_without_fell_behind(cols, r) for r in rows]
            out[mart] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
        return out
    finally:
        con.close()


def test_the_marts_of_a_demo_city_are_the_same_through_junheng_run_and_the_worker(kafka_bootstrap, tmp_path):
    lines = _city(seed=5)
    embedded = tmp_path / "embedded"
    summary = _junheng_run(_write(lines, tmp_path / "events.jsonl"), embedded)
    assert summary["balanced"] and summary["build_ok"] and summary["read"] == len(lines)

    kafka = tmp_path / "kafka"
    counts = _worker_run(kafka_bootstrap, lines, kafka, tmp_path / "worker.log")
    assert counts["balanced"] and counts["internal_errors"] == 0
    assert {
        k: counts[k] for k in ("read", "applied", "duplicate", "stale", "dead_lettered", "dead_letter_reasons")
    } == {k: summary[k] for k in ("read", "applied", "duplicate", "stale", "dead_lettered", "dead_letter_reasons")}
    build = MartBuild(kafka)
    try:
        build.result()
    finally:
        build.close()

    mine, theirs = _marts(Path(summary["marts"])), _marts(kafka / "junheng.duckdb")
    every_mart = {p.stem for p in (PROJECT_ROOT / "dbt_project" / "models" / "marts").glob("mart_*.sql")}
    assert set(mine) == every_mart and all(mine.values()), {k: len(v) for k, v in mine.items()}
    assert sum(len(rows) for rows in mine.values()) > 5000
    assert mart_differences(theirs, mine) == []


def test_national_2017_verdicts_are_the_same_through_both_drivers_and_differ_where_the_city_plan_applies(
    kafka_bootstrap, tmp_path, monkeypatch
):
    from rules import load_catalogue
    from rules.state import Engine
    from streams.embedded import EmbeddedRunner
    from streams.whatif import load_states

    lines = _city(seed=9)
    events = _write(lines, tmp_path / "events.jsonl")
    national_wh, qingdao_wh, kafka = tmp_path / "national", tmp_path / "qingdao", tmp_path / "kafka"
    national = _junheng_run(events, national_wh, "--no-build", catalogue="national-2017")
    qingdao = _junheng_run(events, qingdao_wh, "--no-build", catalogue="qingdao-2021")
    monkeypatch.setenv("JUNHENG_CATALOGUE", "national-2017")
    counts = _worker_run(kafka_bootstrap, lines, kafka, tmp_path / "worker.log")
    assert (national["catalogue"], qingdao["catalogue"], counts["catalogue"]) == (
        "national-2017",
        "qingdao-2021",
        "national-2017",
    )

    # the same verdicts, landed by either driver: every district-year and every school section
    status = judged(latest_status(national_wh))
    assert status and judged(latest_status(kafka)) == status
    assert _sections(kafka) == _sections(national_wh) and len(_sections(national_wh)) > 500
    # the standard itself is the same in both catalogues (Qingdao overrides none of its numbers) ...
    assert judged(latest_status(qingdao_wh)) == status

    # ... the city's plan is what differs: its district targets (city_target rules) and the
    # accountability they feed, judged on each warehouse's district states
    as_of = dt.date.fromisoformat(AS_OF)
    engines = {name: Engine(load_catalogue(name)) for name in ("national-2017", "qingdao-2021")}
    states = {
        "embedded": EmbeddedRunner(national_wh, catalogue=engines["national-2017"].catalogue).open().states,
        "worker": load_states(kafka, engines["national-2017"]),
    }
    verdicts = {driver: _verdicts(s, as_of) for driver, s in states.items()}
    assert verdicts["worker"] == verdicts["embedded"]
    plan = _verdicts(load_states(kafka, engines["qingdao-2021"]), as_of)
    city_rules = {r.id for r in engines["qingdao-2021"].catalogue.rules.values() if r.dimension == "city_target"}
    for key, (rules, behind) in verdicts["worker"].items():
        plan_rules, plan_behind = plan[key]
        assert {r: v for r, v in plan_rules.items() if r not in city_rules} == rules, key
        assert not set(rules) & city_rules
        assert set(behind) <= set(plan_behind), key
    # a concrete difference: Qingdao's C5 (bring a quarter of the non-compliant schools to
    # compliance each year) fails somewhere and makes that district behind, which it is not nationally
    c5 = [key for key, (rules, _) in plan.items() if rules.get("C5") is False]
    assert c5
    assert any(
        any(r.startswith("C5:") for r in plan[k][1]) and not any(r.startswith("C5:") for r in verdicts["worker"][k][1])
        for k in c5
    )


def _sections(warehouse: Path) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The latest section_results row per (district, school, year, section): what was judged."""
    cols, rows = _query(f"""
        select district_code, school_id, year, section, active, students, included, indicators_met, passed,
               reason, "values", met
        from (select *, row_number() over (partition by district_code, school_id, year, section
                                           order by landed_batch desc, landed_pos desc) as rn
              from read_parquet('{warehouse}/landing/section_results/*.parquet')) where rn = 1""")
    return {r[:4]: r[4:] for r in rows}


def _verdicts(states: dict[str, Any], as_of: dt.date) -> dict[tuple[str, int], tuple[dict[str, Any], tuple[str, ...]]]:
    """Per district-year: every district rule's verdict (the standard's attainment rules and the
    catalogue's district targets in force), and the reasons the district is behind."""
    out = {}
    for code, state in states.items():
        catalogue = state.engine.catalogue
        targets = [r.id for r in catalogue.rules.values() if r.dimension == "city_target" and r.scope == "district"]
        for year in sorted(state.years):
            results = {rid: r.passed for rid, r in state.results(year).items()}
            results |= {
                rid: state.evaluate_rule(rid, year).passed for rid in targets if catalogue.rule(rid).in_force(year)
            }
            out[(code, year)] = (results, tuple(state.accountability(year, as_of).behind_reasons))
    return out
