"""Reading the published marts into plain rows for the report (`load_report_data`).

The warehouse file is opened read-only and only marts are read (docs/marts.md). Six marts must be
there (`REQUIRED`); the others are read when the file has them, so a report of an older build, or of
a build before the gap-to-pass and outlook marts existed, still renders — their sections are left
out, never shown empty as if nothing failed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from junheng.errors import UserError
from junheng.report.alertstate import open_alerts
from junheng.report.rulebook import RuleBook, load_rulebook

__all__ = ["REQUIRED", "OPTIONAL", "ReportData", "ReportError", "load_report_data", "sort_ids", "id_key"]

REQUIRED = (
    "mart_city_progress",
    "mart_district_attainment",
    "mart_district_accountability",
    "mart_district_balance",
    "mart_school_section_status",
    "mart_alerts",
)
OPTIONAL = (
    "mart_school_section_indicators",
    "mart_school_gap_to_pass",
    "mart_district_gap_to_pass",
    "mart_district_outlook",
)
# the order rule ids are listed in: prerequisite, resources, government, quality, society, vetoes, plan
_ID_ORDER = ["PRE", "RA-S", "RA-CV", "R", "G", "Q", "SR", "V", "DCY", "C", "D"]


class ReportError(UserError):
    """The warehouse cannot be reported on (no file, or a mart missing: run `dbt build` first)."""


@dataclass
class ReportData:
    """Everything the page shows, read from the marts (plain rows: dicts keyed by column name)."""

    warehouse: Path
    as_of: dt.date
    years: list[int] = field(default_factory=list)
    districts: list[dict[str, str]] = field(default_factory=list)  # code, name_zh, name_en
    city: dict[int, dict[str, Any]] = field(default_factory=dict)
    attainment: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    accountability: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    balance: dict[tuple[str, int, str, str], dict[str, Any]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)  # RA-CV by level
    ras: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)  # (passed, sections)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # open at as_of
    alerts_rows: int = 0
    rule_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    deadlines_as_of: dt.date | None = None
    catalogue: str | None = None
    book: RuleBook = field(default_factory=RuleBook)
    present: set[str] = field(default_factory=set)  # the marts the file has
    # the latest year's failing sections (passed false) per district, and their missed indicators
    failing_sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missed: dict[tuple[str, str, int], list[dict[str, Any]]] = field(default_factory=dict)
    # optional marts (None: the file does not have the mart)
    school_gap: dict[tuple[str, str, int], list[dict[str, Any]]] | None = None
    district_gap: dict[str, list[dict[str, Any]]] | None = None
    outlook: dict[str, list[dict[str, Any]]] | None = None

    _balance_index: dict[tuple[str, int], list[dict[str, Any]]] | None = field(default=None, repr=False, compare=False)

    @property
    def latest_year(self) -> int | None:
        return self.years[-1] if self.years else None

    def balance_of(self, code: str, year: int) -> list[dict[str, Any]]:
        """One district-year's balance rows, by level and indicator. Indexed once, on first use:
        the report asks for each district, and scanning every row each time was quadratic (at
        national scale, 2,800 districts × 5 years, the report took minutes)."""
        if self._balance_index is None:
            index: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for key in sorted(self.balance):
                index.setdefault((key[0], key[1]), []).append(self.balance[key])
            self._balance_index = index
        return self._balance_index.get((code, year), [])

    def rule_name(self, rule_id: str) -> tuple[str, str]:
        """(zh, en) name of a rule: the catalogue's, else the seed's, else empty."""
        zh, en = self.book.names(rule_id)
        if zh or en:
            return zh, en
        return self.rule_names.get(rule_id, ("", ""))


def id_key(rule_id: str) -> tuple[int, str, int, str]:
    m = re.match(r"([A-Za-z]+(?:-[A-Za-z]+)?)(\d*)(.*)", rule_id)
    prefix, number, rest = (m.group(1), m.group(2), m.group(3)) if m else (rule_id, "", "")
    order = _ID_ORDER.index(prefix) if prefix in _ID_ORDER else len(_ID_ORDER)
    return order, prefix, int(number) if number else -1, rest


def sort_ids(ids: Iterable[str] | None) -> list[str]:
    return sorted({str(i) for i in (ids or []) if i is not None}, key=id_key)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _reference_names() -> dict[str, tuple[str, str]]:
    try:
        from ingestion.reference import load_districts

        return {c: (d.name_zh, d.name_en) for c, d in load_districts().items()}
    except Exception:  # noqa: BLE001 -- the names are a nicety: the marts carry them too
        return {}


def _read_required(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    for r in _rows(con, "select * from mart_city_progress where year is not null order by year"):
        data.city[int(r["year"])] = r
        data.catalogue = data.catalogue or r.get("catalogue")
    for r in _rows(con, "select * from mart_district_attainment where year is not null"):
        data.attainment[(r["district_code"], int(r["year"]))] = r
        data.catalogue = data.catalogue or r.get("catalogue")
    for r in _rows(con, "select * from mart_district_accountability where year is not null"):
        data.accountability[(r["district_code"], int(r["year"]))] = r
        if r.get("as_of") is not None:
            data.deadlines_as_of = r["as_of"]
    for r in _rows(con, "select * from mart_district_balance where year is not null"):
        data.balance[(r["district_code"], int(r["year"]), r["level"], r["indicator"])] = r
        if r.get("threshold") is not None:
            data.thresholds.setdefault(r["level"], r["threshold"])
    for r in _rows(
        con,
        """
            select district_code, year,
                   count(*) filter (where passed) as passed,
                   count(*) as sections
            from mart_school_section_status
            where coalesce(included, true) and year is not null
            group by all""",
    ):
        data.ras[(r["district_code"], int(r["year"]))] = (int(r["passed"]), int(r["sections"]))
    alert_rows = _rows(con, "select * from mart_alerts")
    data.alerts_rows = len(alert_rows)
    data.alerts = open_alerts(alert_rows, data.as_of)
    try:
        for r in _rows(con, "select rule_id, name_zh, name_en from catalogue.rules"):
            data.rule_names[r["rule_id"]] = (r["name_zh"] or "", r["name_en"] or "")
    except duckdb.Error:
        pass


def _group(rows: list[dict[str, Any]], *keys: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        key = tuple(r.get(k) for k in keys) if len(keys) > 1 else r.get(keys[0])
        out.setdefault(key, []).append(r)
    return out


def _read_schools(con: duckdb.DuckDBPyConnection, data: ReportData, year: int) -> None:
    """The latest year's failing sections by name, their missed indicators, and (when the mart is
    there) the options that make each pass."""
    failing = _rows(
        con,
        """
        select * from mart_school_section_status
        where year = ? and passed = false and coalesce(included, true)
        order by district_code, coalesce(indicators_missed, 0) desc, school_name, section""",
        [year],
    )
    data.failing_sections = _group(failing, "district_code")
    if "mart_school_section_indicators" in data.present:
        missed = _rows(
            con,
            """
            select * from mart_school_section_indicators
            where year = ? and met = false and coalesce(included, true)
            order by school_id, section, indicator""",
            [year],
        )
        data.missed = _group(missed, "school_id", "section", "year")
    if "mart_school_gap_to_pass" in data.present:
        gap = _rows(
            con,
            "select * from mart_school_gap_to_pass where year = ? order by school_id, section, option_id, indicator",
            [year],
        )
        data.school_gap = _group(gap, "school_id", "section", "year")
    if "mart_district_gap_to_pass" in data.present:
        dgap = _rows(con, "select * from mart_district_gap_to_pass where year = ? order by district_code, item", [year])
        data.district_gap = _group(dgap, "district_code")
    if "mart_district_outlook" in data.present:
        outlook = _rows(con, "select * from mart_district_outlook order by district_code, item nulls first")
        data.outlook = _group(outlook, "district_code")


def _name_districts(data: ReportData) -> None:
    reference = _reference_names()
    names: dict[str, tuple[str | None, str | None]] = {}
    for (code, _), r in sorted(data.attainment.items()):
        names[code] = (r.get("district_name"), r.get("district_name_en"))
    for (code, _), r in sorted(data.accountability.items()):
        zh, en = names.get(code, (None, None))
        names[code] = (zh or r.get("district_name"), en)
    others: set[str] = (
        {c for c, _, _, _ in data.balance}
        | {c for c, _ in data.ras}
        | {str(a["district_code"]) for a in data.alerts if a.get("district_code")}
    )
    for other in others:
        names.setdefault(other, (None, None))
    for code, (zh, en) in names.items():
        ref_zh, ref_en = reference.get(code, ("", ""))
        data.districts.append({"code": code, "name_zh": zh or ref_zh or code, "name_en": en or ref_en or ""})
    data.districts.sort(key=lambda d: d["code"])


def load_report_data(db_file: Path, as_of: dt.date | None = None) -> ReportData:
    """Read the marts of `db_file` (read-only) into a `ReportData`."""
    db_file = Path(db_file)
    if not db_file.is_file():
        raise ReportError(f"no marts at {db_file}: build them first (junheng build --warehouse {db_file.parent})")
    try:
        con = duckdb.connect(str(db_file), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {db_file} read-only (is dbt writing it?): {exc}") from exc
    try:
        present = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' "
                "union select view_name from duckdb_views() where schema_name = 'main'"
            ).fetchall()
        }
        missing = [m for m in REQUIRED if m not in present]
        if missing:
            raise ReportError(
                f"{db_file} lacks {', '.join(missing)}: build the marts first "
                f"(junheng build --warehouse {db_file.parent})"
            )
        data = ReportData(warehouse=db_file.parent, as_of=as_of or dt.date.today(), present=present)
        _read_required(con, data)
        data.years = sorted(
            {
                *data.city,
                *(y for _, y in data.attainment),
                *(y for _, y in data.accountability),
                *(y for _, y, _, _ in data.balance),
            }
        )
        if data.latest_year is not None:
            _read_schools(con, data, data.latest_year)
    finally:
        con.close()
    data.book = load_rulebook(data.catalogue)
    _name_districts(data)
    return data
