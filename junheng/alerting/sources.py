"""Where alerts come from: the conditions true at one evaluation.

**Marts** (``<warehouse>/junheng.duckdb``, opened read-only; dbt is its only writer):

- ``DistrictBehind`` — ``mart_district_accountability.on_track = false``: one alert per rule id of
  its ``behind_reasons`` other than D1–D3 (``DCY``: not attained by its declared creation year;
  ``C1``: the plan's deadline; a failing district target ``C2``–``C13``);
- ``DistrictDeadlineMissed`` — a ``behind_reasons`` entry of ``D1``–``D3``;
- ``DistrictVetoed`` — ``mart_district_attainment.vetoed = true``: one alert per raised veto;
- ``CityOffTrack`` — ``mart_city_progress.on_track = false`` (C1: 30% by 2023, 100% by 2025);
- ``CityTargetMissed`` — ``c4_passed`` / ``c10_passed = false``;
- ``DistrictAtRisk`` — ``mart_district_outlook.at_risk`` while the target year is still to come
  (junheng/alerting/outlook.py).

Which statistical years: for each district its *current year*, the latest year in the marts not
after ``as_of``'s calendar year; deadlines also for the year before it (its D2/D3 fall due in the
current calendar year). An explicit ``years`` list replaces that window. Earlier years' verdicts
are history, not alerts.

**Stream** (district status change rows, ``BatchResult.statuses`` or the landed
``landing/district_status`` files): ``DistrictAttainmentLost`` while a district-year that was
attained is now not attained (True → False, also across an undecided row: True → None → False);
cleared when it is attained again. An undecided row (attained null) changes nothing: a missing
input is never read as a failure or a pass.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junheng.alerting.behind import attach_deadlines, deadline_times
from junheng.alerting.describe import ATTAINMENT, DCY, RuleBook, district_label, fix_text, items_text
from junheng.alerting.model import (
    CITY_OFF_TRACK,
    CITY_TARGET_MISSED,
    DISTRICT_ATTAINMENT_LOST,
    DISTRICT_BEHIND,
    DISTRICT_DEADLINE_MISSED,
    DISTRICT_VETOED,
    MARTS,
    STREAM,
    Alert,
    parse_time,
    rfc3339,
)
from junheng.alerting.outlook import at_risk_conditions

DEADLINES = frozenset({"D1", "D2", "D3"})
ATTAINMENT_MEMORY = "attainment"


@dataclass
class SourceResult:
    """One source read at one evaluation. ``ok`` false: it could not be read, covers nothing, and
    its alerts keep their state."""

    name: str
    ok: bool
    alerts: list[Alert] = field(default_factory=list)
    detail: str = ""
    rows: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "conditions": len(self.alerts),
            "rows": self.rows,
            "detail": self.detail,
            "warnings": self.warnings,
        }


# ====================================================================== marts
def _rows(con: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _split_reason(reason: str) -> tuple[str, str]:
    rid, _, text = reason.partition(":")
    return (rid.strip(), text.strip()) if text else ("", reason.strip())


def _describe(rule: Any, label: str, year: int | None, why: str, fix: str, extra: str = "") -> str:
    name = f"{rule.name_en}" + (f" ({rule.name_zh})" if rule.name_zh else "")
    parts = [
        f"Rule {rule.rule_id}: {name}" + (f"; clause {rule.clause}" if rule.clause else "") + ".",
        f"{'District' if not label.startswith('Qingdao') else 'Scope'}: {label}"
        + (f", statistical year {year}." if year is not None else "."),
        f"Why: {why}." if why else "",
        extra,
        f"What to fix: {fix}" if fix else "",
    ]
    return " ".join(p for p in parts if p)


def marts_conditions(
    con: Any, *, as_of: dt.date, years: Sequence[int] | None = None, rulebook: RuleBook | None = None
) -> tuple[list[Alert], int, list[str]]:
    """The marts' conditions true on `as_of` (see the module doc); returns (alerts, rows read,
    warnings)."""
    if rulebook is None:
        rulebook = _rulebook_from(con)
    alerts: list[Alert] = []
    acc = _rows(
        con,
        """
        select district_code, district_name, year, declared_creation_year, attained, on_track, behind_reasons, as_of
        from main.mart_district_accountability where year <= ? order by district_code, year""",
        [as_of.year],
    )
    att = {
        (r["district_code"], r["year"]): r
        for r in _rows(
            con,
            """
        select district_code, district_name, year, vetoed, attained, failed_items, undecided_items
        from main.mart_district_attainment where year <= ?""",
            [as_of.year],
        )
    }
    city = _rows(con, "select * from main.mart_city_progress where year <= ? order by year", [as_of.year])
    nrows = len(acc) + len(att) + len(city)
    warnings = []
    judged = sorted({str(r["as_of"]) for r in acc if r.get("as_of") is not None})
    if judged and judged != [as_of.isoformat()]:
        warnings.append(
            f"the marts judged deadlines (D1-D3) on {', '.join(judged)}, not on {as_of}: rebuild them "
            f"with dbt build --vars '{{as_of: {as_of}}}' to judge deadlines on {as_of}"
        )
    veto_reasons = _veto_reasons(con)

    current: dict[str, int] = {}
    for r in acc:
        current[r["district_code"]] = max(current.get(r["district_code"], r["year"]), r["year"])
    for code, year in att:
        current[code] = max(current.get(code, year), year)
    wanted = set(years) if years else None

    def in_window(code: str, year: int, deadline: bool) -> bool:
        if wanted is not None:
            return year in wanted
        cy = current.get(code)
        return cy is not None and (year == cy or (deadline and year == cy - 1))

    for r in acc:
        code, year = r["district_code"], r["year"]
        if r["on_track"] is not False or not r["behind_reasons"]:
            continue
        label = district_label(r["district_name"], code)
        by_rule: dict[str, list[str]] = defaultdict(list)
        for reason in r["behind_reasons"]:
            rid, text = _split_reason(reason)
            by_rule[rid or "BEHIND"].append(text)
        a = att.get((code, year)) or {}
        failed, undecided = items_text(a.get("failed_items"), a.get("undecided_items"))
        for rid, texts in by_rule.items():
            deadline = rid in DEADLINES
            if not in_window(code, year, deadline):
                continue
            rule = rulebook.get(rid)
            why = "; ".join(texts)
            fix = fix_text(rid, failed=failed, undecided=undecided)
            if deadline:
                name = DISTRICT_DEADLINE_MISSED
                summary = f"{label} missed deadline {rid} for statistical year {year}: {why}"
                extra = f"Judged on {r['as_of']}." if r.get("as_of") else ""
            else:
                name = DISTRICT_BEHIND
                if rid == DCY:
                    summary = (
                        f"{label} has not attained by its declared creation year "
                        f"{r['declared_creation_year']} (statistical year {year})"
                    )
                else:
                    summary = f"{label} is behind the plan in {year} on {rid}: {why}"
                extra = (
                    f"Declared creation year {r['declared_creation_year']}; attained "
                    f"{_tri(r['attained'])}; failing items {failed}{undecided}."
                    if rid in (DCY, "C1")
                    else ""
                )
            alerts.append(
                Alert(
                    alertname=name,
                    district_code=code,
                    rule_id=rid,
                    year=year,
                    severity=rulebook.severity(rid, "major"),
                    summary=summary,
                    description=_describe(rule, label, year, why, fix, extra),
                    clause=rule.clause,
                    fix=fix,
                    reason=why,
                    district_name=r["district_name"],
                    source=MARTS,
                )
            )

    for (code, year), a in sorted(att.items()):
        if a["vetoed"] is not True or not in_window(code, year, False):
            continue
        label = district_label(a["district_name"], code)
        vetoes = [i for i in (a["failed_items"] or []) if i.startswith("V") and i[1:].isdigit()] or ["V"]
        for rid in vetoes:
            rule = rulebook.get(rid)
            why = veto_reasons.get((code, year, rid)) or "raised by inspection"
            fix = fix_text(rid, name=rule.name_en)
            alerts.append(
                Alert(
                    alertname=DISTRICT_VETOED,
                    district_code=code,
                    rule_id=rid,
                    year=year,
                    severity=rulebook.severity(rid, "critical"),
                    summary=f"{label}: veto {rid} ({rule.name_en}) raised for {year}",
                    description=_describe(rule, label, year, why, fix, "Attainment fails whatever else passes."),
                    clause=rule.clause,
                    fix=fix,
                    reason=why,
                    district_name=a["district_name"],
                    source=MARTS,
                )
            )

    if city:
        city_years = set(years) if years else {max(r["year"] for r in city)}
        for r in city:
            if r["year"] not in city_years:
                continue
            year = r["year"]
            if r.get("on_track") is False:
                rule = rulebook.get("C1")
                laggards = [
                    district_label(a["district_name"], c) + ("" if a["attained"] is False else " undecided")
                    for (c, y), a in sorted(att.items())
                    if y == year and a["attained"] is not True
                ]
                share = r.get("attained_share") or 0.0
                target = r.get("target_share") or 0.0
                why = (
                    f"{r['districts_attained']} of {r['districts_total']} districts attained ({share:.0%}), "
                    f"target {target:.0%}"
                )
                fix = fix_text(
                    "CITY-C1",
                    attained=r["districts_attained"],
                    total=r["districts_total"],
                    share=f"{share:.0%}",
                    target=f"{target:.0%}",
                    laggards=", ".join(laggards) or "none",
                )
                alerts.append(
                    Alert(
                        alertname=CITY_OFF_TRACK,
                        district_code=None,
                        rule_id="C1",
                        year=year,
                        severity=rulebook.severity("C1", "critical"),
                        summary=f"Qingdao is off its plan in {year}: {why}",
                        description=_describe(rule, district_label(None, None), year, why, fix),
                        clause=rule.clause,
                        fix=fix,
                        reason=why,
                        source=MARTS,
                    )
                )
            for rid in ("C4", "C10"):
                if r.get(f"{rid.lower()}_passed") is not False:
                    continue
                rule = rulebook.get(rid)
                value, threshold = r.get(f"{rid.lower()}_value"), r.get(f"{rid.lower()}_threshold")
                why = f"{rid} value {_num(value)}, needs {_num(threshold)}"
                fix = fix_text(
                    rid,
                    value=value if value is not None else float("nan"),
                    threshold=threshold if threshold is not None else float("nan"),
                )
                alerts.append(
                    Alert(
                        alertname=CITY_TARGET_MISSED,
                        district_code=None,
                        rule_id=rid,
                        year=year,
                        severity=rulebook.severity(rid, "minor"),
                        summary=f"Qingdao misses {rid} in {year}: {rule.name_en} ({_num(value)}, needs {_num(threshold)})",
                        description=_describe(rule, district_label(None, None), year, why, fix),
                        clause=rule.clause,
                        fix=fix,
                        reason=why,
                        source=MARTS,
                    )
                )
    risk, risk_rows, risk_warnings = at_risk_conditions(con, as_of=as_of, years=years, rulebook=rulebook)
    return alerts + risk, nrows + risk_rows, warnings + risk_warnings


def _tri(v: bool | None) -> str:
    return {True: "yes", False: "no", None: "undecided"}[v]


def _num(v: Any) -> str:
    return "unknown" if v is None else f"{v:g}"


def _rulebook_from(con: Any) -> RuleBook:
    """The catalogue the marts were built from (seed catalogue.rules), else the Python catalogue."""
    try:
        return RuleBook.from_rows(_rows(con, "select rule_id, name_en, name_zh, clause, severity from catalogue.rules"))
    except Exception:
        return RuleBook.from_catalogue()


def _veto_reasons(con: Any) -> dict[tuple[str, int, str], str]:
    try:
        rows = _rows(
            con,
            """select district_code, year, rule_id, reason from intermediate.int_district_rule_verdicts
                             where kind = 'veto' and passed = false""",
        )
    except Exception:
        return {}
    return {(r["district_code"], r["year"], r["rule_id"]): r["reason"] for r in rows if r["reason"]}


def read_marts(
    duckdb_path: str | Path,
    *,
    as_of: dt.date,
    years: Sequence[int] | None = None,
    rulebook: RuleBook | None = None,
    attempts: int = 5,
    wait_s: float = 1.0,
) -> SourceResult:
    """Open the warehouse read-only and read the marts' conditions. A missing file, a file held
    by a writer (``dbt build`` running) or missing marts give ``ok=False`` — never an exception."""
    import duckdb

    path = Path(duckdb_path)
    if not path.exists():
        return SourceResult(MARTS, False, detail=f"{path} does not exist: build the marts first (dbt build)")
    last = ""
    for attempt in range(max(1, attempts)):
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:  # typically "Could not set lock on file": dbt is writing
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(wait_s * (attempt + 1))
            continue
        try:
            alerts, nrows, warnings = marts_conditions(con, as_of=as_of, years=years, rulebook=rulebook)
            attach_deadlines(alerts, deadline_times(con))  # when each missed deadline passed
            return SourceResult(MARTS, True, alerts, f"read {path}", nrows, warnings)
        except duckdb.Error as exc:
            return SourceResult(
                MARTS,
                False,
                detail=f"reading the marts failed ({type(exc).__name__}: {exc}); "
                "were they built with this project's dbt?",
            )
        finally:
            con.close()
    return SourceResult(MARTS, False, detail=f"could not open {path} read-only after {attempts} attempts: {last}")


# ====================================================================== stream
def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return [str(v) for v in value]


def apply_statuses(memory: dict[str, Any], rows: Iterable[Mapping[str, Any]]) -> int:
    """Fold district status rows, in the order they were produced, into the stream memory
    (``memory["attainment"]["<district>|<year>"]``); returns how many rows were applied.

    Per district-year: ``last`` is the last decided attainment, ``lost`` whether it went from
    attained to not attained since it was last attained. Re-applying rows already applied gives
    the same memory (a row carries its own ``previous_attained``)."""
    book = memory.setdefault(ATTAINMENT_MEMORY, {})
    n = 0
    for row in rows:
        key = f"{row['district_code']}|{int(row['year'])}"
        entry = book.setdefault(key, {"last": None, "lost": False})
        attained = row.get("attained")
        entry["failed"] = _items(row.get("failed_items"))
        entry["undecided"] = _items(row.get("undecided_items"))
        if attained is True:
            entry["lost"] = False
            entry["last"] = True
            entry.pop("since", None)
        elif attained is False:
            if row.get("previous_attained") is True or entry["last"] is True:
                if not entry["lost"]:  # lost now: since the event time of this row (behind.py), if known
                    entry["since"] = rfc3339(row.get("event_time"))
                entry["lost"] = True
            entry["last"] = False
        n += 1
    return n


def attainment_alerts(
    memory: Mapping[str, Any], *, names: Mapping[str, str] | None = None, rulebook: RuleBook | None = None
) -> list[Alert]:
    """The stream's current conditions: one DistrictAttainmentLost per lost district-year."""
    rulebook = rulebook or RuleBook({})
    names = names or {}
    rule = rulebook.get(ATTAINMENT)
    alerts = []
    for key, entry in sorted((memory.get(ATTAINMENT_MEMORY) or {}).items()):
        if not entry.get("lost"):
            continue
        code, _, year_s = key.partition("|")
        year = int(year_s)
        label = district_label(names.get(code), code)
        failed, undecided = items_text(entry.get("failed"), entry.get("undecided"))
        why = f"attained before, not attained now; failing {failed}{undecided}"
        fix = fix_text(ATTAINMENT, failed=failed, undecided=undecided)
        alerts.append(
            Alert(
                alertname=DISTRICT_ATTAINMENT_LOST,
                district_code=code,
                rule_id=ATTAINMENT,
                year=year,
                severity=rule.severity,
                summary=f"{label} lost attainment for {year}: now failing {failed}{undecided}",
                description=_describe(rule, label, year, why, fix),
                clause=rule.clause,
                fix=fix,
                reason=why,
                district_name=names.get(code),
                source=STREAM,
                fell_behind_at=parse_time(entry.get("since")),
            )
        )
    return alerts


def district_names() -> dict[str, str]:
    try:
        from ingestion.reference import load_districts

        return {code: d.name_zh for code, d in load_districts().items()}
    except Exception:
        return {}
