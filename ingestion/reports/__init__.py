"""Statistical reports in: the CSV and XLSX files bureaus send become events for what changed.

    events = load_report("2024年统计表.xlsx", warehouse="warehouse", state="load-state.json")

A report is one or more sheets: *sections* sheets (one row per school section per year: enrolment,
teachers, rooms and grounds; docs/reports.md lists the columns, Chinese or English) and *roster*
sheets (one row per school: name, type, locale, ownership, boarding, district; each row registers
its school). Files are read as they come (reading.py: any usual encoding, title rows above the
header, merged header cells, several sheets). Every bad file or cell is reported on its own line
naming file, sheet, row and column; nothing is emitted from a file with problems unless
``skip_bad_rows`` (then the bad rows are left out and listed). Each fact gets the ``seq`` that
supersedes what is already known (versions.py), so a report always wins over older figures and a
retry after a failure is safe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.reports.columns import ROSTER, SECTIONS
from ingestion.reports.facts import ReportFacts, facts_of, now_cst
from ingestion.reports.reading import Problem, ReportError, read_tables
from ingestion.reports.versions import LoadState, WarehouseVersions, fact_id, fingerprint

__all__ = ["COLUMNS", "ROSTER", "SECTIONS", "LoadResult", "ReportError", "load_report", "read_report"]

#: the sections sheet's columns (the first loader's name for them)
COLUMNS = SECTIONS
#: registrations first, so a school a roster registers is known to the facts of the same load
_ORDER = {"school.registered": 0}


@dataclass
class LoadResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # the problems of rows left out (skip_bad_rows)
    unchanged: int = 0  # facts already known as they are


def read_report(path: str | Path, encoding: str | None = None) -> ReportFacts:
    """The facts a report states, and its problems (nothing is decided about versions here)."""
    tables, problems = read_tables(path, encoding)
    return facts_of(tables, problems)


def load_report(
    path: str | Path,
    state: str | Path | None = None,
    *,
    warehouse: str | Path | None = None,
    encoding: str | None = None,
    skip_bad_rows: bool = False,
) -> list[dict[str, Any]]:
    """Events for the facts of `path` that are not already known (see :func:`load`)."""
    return load(path, state, warehouse=warehouse, encoding=encoding, skip_bad_rows=skip_bad_rows).events


def load(
    path: str | Path,
    state: str | Path | None = None,
    *,
    warehouse: str | Path | None = None,
    encoding: str | None = None,
    skip_bad_rows: bool = False,
) -> LoadResult:
    """Read a report and decide its events. Raises :class:`ReportError` listing every problem (a
    bad file always; bad rows unless `skip_bad_rows`). The load state is saved only when events
    were decided, so a failed load changes nothing."""
    if state is None and warehouse is None:
        raise ReportError(["give the warehouse the report updates (--warehouse) or a load state (--state)"])
    from ingestion.contract import check_event_dict

    read = read_report(path, encoding)
    file_level = [p for p in read.problems if p.row is None]
    if file_level or (read.problems and not skip_bad_rows):
        raise ReportError(read.problems)
    result = LoadResult(skipped=[str(p) for p in read.problems])
    loaded = LoadState(state)
    applied = WarehouseVersions(warehouse) if warehouse is not None else None
    source, now = f"report/{Path(path).name}", now_cst()
    bad: list[Problem] = []
    for key in sorted(read.facts, key=lambda k: (_ORDER.get(k[0], 1), k)):
        etype, district, school_id, year = key
        payload = read.facts[key]
        fact, fp = fact_id(etype, school_id, year), fingerprint(payload)
        known = applied.get(fact) if applied is not None else None
        emitted = loaded.get(fact)
        if applied is not None and known is not None and known[1] == payload:
            result.unchanged += 1
            continue
        if applied is None and emitted is not None and emitted[0] == fp:
            result.unchanged += 1
            continue
        seq = 1 + max(known[0] if known else -1, emitted[1] if emitted else -1)
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": etype,
            "schema_version": 1,
            "occurred_at": now.isoformat(timespec="seconds"),
            "source": source,
            "district_code": district,
            "school_id": school_id,
            "year": year,
            "seq": seq,
            "payload": payload,
        }
        verdict = check_event_dict(event)
        if not verdict.ok:  # e.g. class sizes that do not add up to the students
            bad.append(
                Problem(
                    str(path),
                    f"{etype} of {school_id} {year} (from {read.where(key)}) breaks the contract: {verdict.reason}",
                )
            )
            continue
        result.events.append(event)
        loaded.set(fact, fp, seq)
    if bad and not skip_bad_rows:
        raise ReportError(bad)
    result.skipped += [str(p) for p in bad]
    loaded.save()
    return result
