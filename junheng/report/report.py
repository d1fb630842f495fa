"""The bureau's report: one static HTML page built from the marts of `junheng.duckdb`.

    from junheng.report import write_report
    write_report(Path("/data/junheng"))            # → /data/junheng/report/index.html

The page is self-contained: inline CSS, inline SVG charts drawn here in Python, a few lines of inline
script it does not need, system fonts, and a Content-Security-Policy that forbids loading anything (so
it opens offline, from a file:// URL, an e-mail attachment or a USB stick). The warehouse is opened
read-only and only the marts (docs/marts.md) are read (plus, when present, the rule names of
the `catalogue.rules` seed for tooltips). Every text that comes from the data is escaped by
`junheng.report.markup.el`.

Sections: (1) headline — districts attained per year against C1's target share and the city's
on_track; (2) the district × year attainment matrix with the failed rule ids; (3) every coefficient of
variation (district × level × indicator) against its threshold; (4) the city against C1, C4 and C10;
(5) each district's trend; (6) the open alerts.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Iterable, Sequence

import duckdb

from junheng.errors import UserError
from junheng.layout import WarehouseLayout
from junheng.report import svg
from junheng.report.markup import Markup, el, esc, join

__all__ = ["write_report", "render_report", "load_report_data", "open_alerts", "ReportData", "ReportError",
           ]

MARTS = ("mart_city_progress", "mart_district_attainment", "mart_district_accountability",
         "mart_district_balance", "mart_school_section_status", "mart_alerts")
LEVELS = (("primary", "小学", "primary"), ("junior", "初中", "junior secondary"))
INDICATORS = ("R1", "R2", "R3", "R4", "R5", "R6", "R7")
MAX_IDS_IN_CELL = 8
SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2}
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
    districts: list[dict[str, str]] = field(default_factory=list)     # code, name_zh, name_en
    city: dict[int, dict[str, Any]] = field(default_factory=dict)
    attainment: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    accountability: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    balance: dict[tuple[str, int, str, str], dict[str, Any]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)         # RA-CV by level
    ras: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)   # (passed, sections)
    alerts: list[dict[str, Any]] = field(default_factory=list)         # open at as_of
    alerts_rows: int = 0
    rule_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    deadlines_as_of: dt.date | None = None

    @property
    def latest_year(self) -> int | None:
        return self.years[-1] if self.years else None


# ---------------------------------------------------------------------------------------------------
# reading the warehouse

def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _id_key(rule_id: str) -> tuple[int, str, int, str]:
    m = re.match(r"([A-Za-z]+(?:-[A-Za-z]+)?)(\d*)(.*)", rule_id)
    prefix, number, rest = (m.group(1), m.group(2), m.group(3)) if m else (rule_id, "", "")
    order = _ID_ORDER.index(prefix) if prefix in _ID_ORDER else len(_ID_ORDER)
    return order, prefix, int(number) if number else -1, rest


def sort_ids(ids: Iterable[str] | None) -> list[str]:
    return sorted({str(i) for i in (ids or []) if i is not None}, key=_id_key)


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(
            tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None


def open_alerts(rows: Sequence[dict[str, Any]], as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """The alerts firing at the end of `as_of`: per alert_id, the latest 'firing' row that no later
    'resolved' row closes (a resolved row without a time closes every firing row). State changes
    after `as_of` are not known yet and are ignored: those of an evaluation that judged a later date
    (the row's ``as_of``), or, for the stream's changes (no ``as_of``), recorded after it. An
    evaluation judging `as_of` counts whenever it ran, so the report of a build shows the alerts
    that build evaluated (also a build judged on a past date). Sorted by severity, then by how long
    they have fired."""
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()) if as_of else None
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("alert_id") is None or r.get("state") not in ("firing", "resolved"):
            continue
        # when the change happened: the time it was recorded (changed_at, when the mart has it), else
        # starts_at for a firing row and ends_at for a resolved one
        at = _as_datetime(r.get("changed_at")) or (_as_datetime(r.get("starts_at")) if r["state"] == "firing" else (
            _as_datetime(r.get("ends_at")) or _as_datetime(r.get("starts_at"))))
        judged = r.get("as_of")
        if isinstance(judged, str):
            judged = dt.date.fromisoformat(judged[:10])
        if isinstance(judged, dt.datetime):
            judged = judged.date()
        if as_of is not None and isinstance(judged, dt.date):
            if judged > as_of:
                continue
        elif cutoff is not None and at is not None and at >= cutoff:
            continue
        by_alert.setdefault(r["alert_id"], []).append({**r, "_at": at})
    result = []
    for changes in by_alert.values():
        firing = [c for c in changes if c["state"] == "firing"]
        if not firing:
            continue
        latest = max(firing, key=lambda c: c["_at"] or dt.datetime.min)
        closed = any(c["state"] == "resolved" and (c["_at"] is None or latest["_at"] is None or c["_at"] >= latest["_at"])
                     for c in changes)
        if not closed:
            result.append({k: v for k, v in latest.items() if k != "_at"})
    return sorted(result, key=lambda a: (SEVERITY_ORDER.get(a.get("severity") or "", 9),
                                         _as_datetime(a.get("starts_at")) or dt.datetime.max,
                                         a.get("district_code") or "", a.get("rule_id") or "", a["alert_id"]))


def _reference_names() -> dict[str, tuple[str, str]]:
    try:
        from ingestion.reference import load_districts

        return {c: (d.name_zh, d.name_en) for c, d in load_districts().items()}
    except Exception:   # the names are a nicety: the marts carry them too
        return {}


def load_report_data(db_file: Path, as_of: dt.date | None = None) -> ReportData:
    """Read the marts of `db_file` (read-only) into a `ReportData`."""
    db_file = Path(db_file)
    if not db_file.is_file():
        raise ReportError(f"no marts at {db_file}: build them first (junheng build --warehouse {Path(db_file).parent})")
    try:
        con = duckdb.connect(str(db_file), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {db_file} read-only (is dbt writing it?): {exc}") from exc
    try:
        present = {r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' "
            "union select view_name from duckdb_views() where schema_name = 'main'").fetchall()}
        missing = [m for m in MARTS if m not in present]
        if missing:
            raise ReportError(f"{db_file} lacks {', '.join(missing)}: build the marts first "
                              f"(junheng build --warehouse {Path(db_file).parent})")
        data = ReportData(warehouse=db_file.parent, as_of=as_of or dt.date.today())

        for r in _rows(con, "select * from mart_city_progress where year is not null order by year"):
            data.city[int(r["year"])] = r
        for r in _rows(con, "select * from mart_district_attainment where year is not null"):
            data.attainment[(r["district_code"], int(r["year"]))] = r
        for r in _rows(con, "select * from mart_district_accountability where year is not null"):
            data.accountability[(r["district_code"], int(r["year"]))] = r
            if r.get("as_of") is not None:
                data.deadlines_as_of = r["as_of"]
        for r in _rows(con, "select * from mart_district_balance where year is not null"):
            data.balance[(r["district_code"], int(r["year"]), r["level"], r["indicator"])] = r
            if r.get("threshold") is not None:
                data.thresholds.setdefault(r["level"], r["threshold"])
        for r in _rows(con, """
                select district_code, year,
                       count(*) filter (where passed) as passed,
                       count(*) as sections
                from mart_school_section_status
                where coalesce(included, true) and year is not null
                group by all"""):
            data.ras[(r["district_code"], int(r["year"]))] = (int(r["passed"]), int(r["sections"]))
        alert_rows = _rows(con, "select * from mart_alerts")
        data.alerts_rows = len(alert_rows)
        data.alerts = open_alerts(alert_rows, data.as_of)
        try:
            for r in _rows(con, "select rule_id, name_zh, name_en from catalogue.rules"):
                data.rule_names[r["rule_id"]] = (r["name_zh"] or "", r["name_en"] or "")
        except duckdb.Error:
            pass
    finally:
        con.close()

    data.years = sorted({*data.city, *(y for _, y in data.attainment), *(y for _, y in data.accountability),
                         *(y for _, y, _, _ in data.balance)})
    reference = _reference_names()
    names: dict[str, tuple[str | None, str | None]] = {}
    for (code, _), r in sorted(data.attainment.items()):
        names[code] = (r.get("district_name"), r.get("district_name_en"))
    for (code, _), r in sorted(data.accountability.items()):
        zh, en = names.get(code, (None, None))
        names[code] = (zh or r.get("district_name"), en)
    others: set[str] = {c for c, _, _, _ in data.balance} | {c for c, _ in data.ras} | {
        str(a["district_code"]) for a in data.alerts if a.get("district_code")}
    for other in others:
        names.setdefault(other, (None, None))
    for code, (zh, en) in names.items():
        ref_zh, ref_en = reference.get(code, ("", ""))
        data.districts.append({"code": code, "name_zh": zh or ref_zh or code, "name_en": en or ref_en or ""})
    data.districts.sort(key=lambda d: d["code"])
    return data


# ---------------------------------------------------------------------------------------------------
# small pieces of markup

def bi(zh: str, en: str) -> Markup:
    """A Chinese label followed by its English one."""
    return join(zh, " ", el("span", en, class_="en", lang="en"))


VERDICT = {True: ("pass", "✓"), False: ("fail", "✗"), None: ("undecided", "?")}


def mark(verdict: bool | None, label: str) -> Markup:
    cls, sym = VERDICT[verdict]
    return el("span", sym, class_=f"mark {cls}", role="img", aria_label=label, title=label)


def _yes_no(verdict: bool | None, yes: str = "是 yes", no: str = "否 no", unknown: str = "待定 undecided") -> str:
    return yes if verdict is True else no if verdict is False else unknown


def _pct(x: float | None) -> str:
    return svg.pct(x)


class _Page:
    def __init__(self, data: ReportData):
        self.d = data
        self.names = {d["code"]: d for d in data.districts}

    # -- helpers --------------------------------------------------------------------------------------
    def rule_label(self, rule_id: str) -> str:
        zh, en = self.d.rule_names.get(rule_id, ("", ""))
        return f"{rule_id} {zh} / {en}".strip(" /") if (zh or en) else rule_id

    def district_cell(self, code: str) -> Markup:
        d = self.names.get(code, {"name_zh": code, "name_en": ""})
        return el("th", d["name_zh"], el("span", code, class_="code"), el("span", d["name_en"], class_="en", lang="en")
                  if d["name_en"] else None, class_="district", scope="row")

    def short(self, code: str) -> str:
        return self.names.get(code, {}).get("name_zh") or code

    def declared_year(self, code: str) -> int | None:
        for y in reversed(self.d.years):
            r = self.d.accountability.get((code, y))
            if r and r.get("declared_creation_year") is not None:
                return int(r["declared_creation_year"])
        return None

    def milestones(self) -> list[tuple[int, float]]:
        steps, prev = [], 0.0
        for y in sorted(self.d.city):
            t = self.d.city[y].get("target_share")
            if t is not None and t != prev:
                steps.append((y, t))
                prev = t
        return steps

    def milestone_text(self) -> str:
        steps = self.milestones()
        if not steps:
            return "C1"
        return ("C1：" + "，".join(f"{y} 年 {_pct(t)}" for y, t in steps) + " · "
                + ", ".join(f"{_pct(t)} by {y}" for y, t in steps))

    # -- (0) header -----------------------------------------------------------------------------------
    def header(self) -> Markup:
        d = self.d
        meta = [f"数据截至 As of {d.as_of.isoformat()}"]
        if d.latest_year is not None:
            meta.append(f"统计年度 Statistical years {d.years[0]}–{d.latest_year}")
        if d.deadlines_as_of is not None:
            meta.append(f"期限判定日 Deadlines judged on {d.deadlines_as_of}")
        meta.append(f"区县 Districts {len(d.districts)}")
        nav = [("headline", "总览 Headline"), ("matrix", "达标矩阵 Attainment matrix"),
               ("balance", "差异系数 Coefficients of variation"), ("city", "全市目标 City targets"),
               ("trends", "区县趋势 District trends"), ("alerts", "告警 Alerts")]
        return el("header", el("h1", "青岛市义务教育优质均衡发展监测报告",
                               el("span", "Qingdao: high-quality balanced compulsory education — progress report",
                                  class_="en", lang="en")),
                  el("p", " · ".join(meta), class_="meta"),
                  el("nav", [el("a", label, href=f"#{anchor}") for anchor, label in nav],
                     aria_label="章节 Sections"), class_="top")

    # -- (1) headline ---------------------------------------------------------------------------------
    def headline(self) -> Markup:
        d = self.d
        rows = [d.city[y] for y in sorted(d.city)]
        body: list[Any] = [el("h2", bi("总览：达标区县与规划目标", "Headline: districts attained against the plan"))]
        if not rows:
            return el("section", *body, el("p", "尚无数据 No data yet: mart_city_progress is empty.", class_="none"),
                      id="headline")
        last = rows[-1]
        total, attained = last.get("districts_total") or 0, last.get("districts_attained") or 0
        on_track = last.get("on_track")
        cards = [
            el("div", el("div", f"{last['year']} 年达标区县 Districts attained", class_="label"),
               el("div", f"{attained} / {total}", class_="value"),
               el("div", f"{_pct(last.get('attained_share'))} · 待定 undecided {last.get('districts_undecided') or 0}",
                  class_="sub"), class_="card", id="card-attained"),
            el("div", el("div", "规划目标 Plan target (C1)", class_="label"),
               el("div", _pct(last.get("target_share")), class_="value"),
               el("div", self.milestone_text(), class_="sub"), class_="card", id="card-target"),
            el("div", el("div", "全市是否如期 City on track", class_="label"),
               el("div", mark(on_track, _yes_no(on_track, "如期 on track", "落后 behind")), " ",
                  _yes_no(on_track, "如期 on track", "落后 behind", "待定 undecided"), class_="value"),
               el("div", f"{last['year']}: 达标占比 share {_pct(last.get('attained_share'))} vs 目标 target "
                         f"{_pct(last.get('target_share'))}", class_="sub"),
               class_=f"card {VERDICT[on_track][0]}", id="card-on-track"),
        ]
        chart = svg.attainment_bars(
            "chart-headline", "各年度达标区县占比与规划目标 Districts attained per year against the plan's target share",
            "For each statistical year, the share of districts attaining the standard (solid bar, coloured by "
            "whether the city is on track), districts still undecided (hatched), and C1's target share (blue tick). "
            + "; ".join(f"{r['year']}: {r.get('districts_attained')}/{r.get('districts_total')} attained, target "
                        f"{_pct(r.get('target_share'))}, on track {_yes_no(r.get('on_track'))}" for r in rows), rows)
        head = el("tr", el("th", bi("年度", "Year"), scope="col"), el("th", bi("达标", "Attained"), scope="col"),
                  el("th", bi("待定", "Undecided"), scope="col"), el("th", bi("占比", "Share"), scope="col"),
                  el("th", bi("目标", "Target"), scope="col"), el("th", bi("如期", "On track"), scope="col"))
        trs = [el("tr", el("th", r["year"], scope="row"),
                  el("td", f"{r.get('districts_attained')}/{r.get('districts_total')}", class_="num"),
                  el("td", r.get("districts_undecided") or 0, class_="num"),
                  el("td", _pct(r.get("attained_share")), class_="num"),
                  el("td", _pct(r.get("target_share")), class_="num"),
                  el("td", mark(r.get("on_track"), _yes_no(r.get("on_track"))))) for r in rows]
        table = el("table", el("caption", "达标区县（逐年） Districts attained, year by year", class_="sr-only"),
                   el("thead", head), el("tbody", trs), class_="city-table")
        note = el("p", "“待定”表示数据不足以判定（缺少输入从不按通过或未通过计）。 Undecided means the data is not "
                       "enough to decide: a missing input is never read as a pass or a fail. On track is null while "
                       "the undecided districts could still carry the year.", class_="note")
        return el("section", *body, el("div", cards, class_="cards"),
                  el("div", el("figure", chart), table, class_="row"), note, id="headline")

    # -- (2) matrix -----------------------------------------------------------------------------------
    def matrix_cell(self, code: str, year: int, declared: int | None) -> Markup:
        r = self.d.attainment.get((code, year))
        classes = ["cell"] + (["declared"] if declared == year else [])
        if r is None:
            return el("td", "—", class_=" ".join(classes + ["none"]), title=f"{year}: 无数据 no data")
        attained = r.get("attained")
        failed, undecided = sort_ids(r.get("failed_items")), sort_ids(r.get("undecided_items"))
        cls, sym = VERDICT[attained]
        status = {True: "达标 attained", False: "未达标 not attained", None: "待定 undecided"}[attained]
        dims = [("资源配置 resources", r.get("resource_passed")), ("政府保障 government", r.get("government_passed")),
                ("教育质量 quality", r.get("quality_passed")), ("社会认可 recognition", r.get("social_passed")),
                ("前提 prerequisite", r.get("prerequisite_passed"))]
        lines = [f"{self.short(code)} {year}: {status}",
                 " · ".join(f"{n} {svg.symbol(v)}" for n, v in dims)
                 + f" · 否决 veto {_yes_no(r.get('vetoed'), 'raised', 'none', '?')}"]
        if failed:
            lines.append(f"未通过 Failed ({len(failed)}):")
            lines += [f"  {self.rule_label(i)}" for i in failed]
        if undecided:
            lines.append(f"待定 Undecided ({len(undecided)}):")
            lines += [f"  {self.rule_label(i)}" for i in undecided]
        if declared == year:
            lines.append(f"创建年度 Declared creation year {declared}")
        shown = failed[:MAX_IDS_IN_CELL]
        chips = [el("span", i, class_="id") for i in shown]
        if len(failed) > len(shown):
            chips.append(el("span", f"+{len(failed) - len(shown)}", class_="more"))
        room = max(0, MAX_IDS_IN_CELL - len(shown))
        chips += [el("span", i, class_="id und") for i in undecided[:room]]
        if len(undecided) > room:
            chips.append(el("span", f"?+{len(undecided) - room}", class_="more"))
        count = f"{len(failed)}" if failed else (f"?{len(undecided)}" if undecided and attained is None else None)
        return el("td", el("span", sym, class_=f"mark {cls}", aria_hidden="true"),
                  el("span", status, class_="sr-only"),
                  el("span", count, class_="count") if count else None,
                  el("span", join(*[join(c, " ") for c in chips]), class_="ids") if chips else None,
                  class_=" ".join(classes + [cls]), title="\n".join(lines),
                  data_district=code, data_year=year, data_failed=" ".join(failed) or None)

    def matrix(self) -> Markup:
        d = self.d
        body: list[Any] = [el("h2", bi("区县达标矩阵", "District attainment matrix"))]
        if not d.attainment:
            return el("section", *body, el("p", "尚无数据 No data yet: mart_district_attainment is empty.",
                                           class_="none"), id="matrix")
        years = sorted({y for _, y in d.attainment})
        latest = d.latest_year
        head = el("tr", el("th", bi("区县", "District"), scope="col"),
                  el("th", bi("创建年度", "Declared"), scope="col"),
                  [el("th", y, scope="col", class_="year") for y in years],
                  el("th", bi(f"{latest} 如期", "On track"), scope="col"))
        trs = []
        for dist in d.districts:
            code = dist["code"]
            if not any((code, y) in d.attainment for y in years):
                continue
            declared = self.declared_year(code)
            acc = d.accountability.get((code, latest)) if latest is not None else None
            on_track = acc.get("on_track") if acc else None
            reasons = list(acc.get("behind_reasons") or []) if acc else []
            tip = "\n".join([f"{self.short(code)} {latest}: {_yes_no(on_track, '如期 on track', '落后 behind')}"]
                            + [f"  {x}" for x in reasons]) if acc else "无数据 no data"
            trs.append(el("tr", self.district_cell(code), el("td", declared if declared is not None else "?",
                                                             class_="num"),
                          [self.matrix_cell(code, y, declared) for y in years],
                          el("td", mark(on_track, tip), el("span", len(reasons), class_="count") if reasons else None,
                             title=tip, class_="on-track")))
        legend = el("p", mark(True, "达标 attained"), " 达标 attained　", mark(False, "未达标 not attained"),
                    " 未达标 not attained (failed rule ids)　", mark(None, "待定 undecided"),
                    " 待定 undecided (dashed: rules still undecided)",
                    el("span", class_="swatch declared"), "创建年度 declared creation year. ",
                    "悬停查看各维度与规则名称 Hover a cell for the dimensions and the rules' names.", class_="legend")
        toggle = [el("input", type="checkbox", id="ids-toggle", checked=True),
                  el("label", "显示规则编号 Show rule ids", for_="ids-toggle", class_="toggle")]
        table = el("table", el("caption", "区县 × 年度 达标情况 District × year attainment", class_="sr-only"),
                   el("thead", head), el("tbody", trs), class_="matrix", id="attainment-matrix")
        return el("section", *body, legend, *toggle, el("div", table, class_="table-wrap"), id="matrix")

    # -- (3) coefficients of variation ---------------------------------------------------------------
    def balance(self) -> Markup:
        d = self.d
        body: list[Any] = [el("h2", bi("校际差异系数（RA-CV）", "Coefficients of variation between schools (RA-CV)")),
                           el("p", "每个区县、学段、指标（R1–R7）按在校生加权的差异系数，虚线为阈值（小学 ≤ 0.50，"
                                   "初中 ≤ 0.45）。 Each district's enrolment-weighted coefficient of variation per "
                                   "level and indicator; the dashed line is the level's threshold. Green passes, red "
                                   "fails, amber is undecided.", class_="note")]
        years = sorted({y for _, y, _, _ in d.balance}, reverse=True)
        if not years:
            return el("section", *body, el("p", "尚无数据 No data yet: mart_district_balance is empty.",
                                           class_="none"), id="balance")
        codes = [x["code"] for x in d.districts if any(k[0] == x["code"] for k in d.balance)]
        indicators = sorted({k[3] for k in d.balance}, key=_id_key) or list(INDICATORS)
        body.append(el("button", "展开全部年度 Expand all years", type="button", id="cv-toggle-all", hidden=True,
                       aria_pressed="false", data_expand="展开全部年度 Expand all years",
                       data_collapse="收起往年 Collapse earlier years"))
        for year in years:
            rows_y = [r for k, r in d.balance.items() if k[1] == year]
            failing = sum(1 for r in rows_y if r.get("passed") is False)
            undecided = sum(1 for r in rows_y if r.get("passed") is None)
            summary = (f"{year} 年：{len(rows_y)} 个系数，{failing} 个超阈值，{undecided} 个待定 — "
                       f"{len(rows_y)} coefficients, {failing} above threshold, {undecided} undecided")
            levels = []
            for level, zh, en in LEVELS:
                if not any(k[1] == year and k[2] == level for k in d.balance):
                    continue
                threshold = d.thresholds.get(level)
                figs = []
                for ind in indicators:
                    rows = [(self.short(c), f"{self.short(c)} {c}", d.balance.get((c, year, level, ind)))
                            for c in codes]
                    if all(r is None for _, _, r in rows):
                        continue
                    name = self.rule_label(ind)
                    cid = f"cv-{year}-{level}-{ind}"
                    title = f"{year} {zh} {ind} 差异系数 — {en} {ind} coefficient of variation by district " \
                            f"(threshold ≤ {threshold:g})" if threshold is not None else \
                            f"{year} {zh} {ind} 差异系数 — {en} {ind} coefficient of variation by district"
                    desc = "; ".join(f"{label}: " + ("no data" if r is None or r.get("cv") is None else
                                                     f"CV {r['cv']:.3f} {svg.symbol(r.get('passed'))}")
                                     for label, _, r in rows)
                    figs.append(el("figure", el("figcaption", name),
                                   svg.cv_bars(cid, title, desc, rows, threshold)))
                levels.append(el("div", el("h3", bi(f"{zh}（阈值 ≤ {threshold:g}）" if threshold is not None else zh,
                                                    f"{en} (threshold ≤ {threshold:g})" if threshold is not None
                                                    else en)),
                                 el("div", figs, class_="cv-grid"), class_="level"))
            latest = year == years[0]
            body.append(el("details", el("summary", summary, class_="has-fail" if failing else None), levels,
                           open=latest,
                           class_="cv-year latest" if latest else "cv-year", id=f"cv-{year}"))
        return el("section", *body, id="balance")

    # -- (4) city targets -------------------------------------------------------------------------------
    def city(self) -> Markup:
        d = self.d
        body: list[Any] = [el("h2", bi("全市规划目标进展", "The city against its plan's targets"))]
        rows = [d.city[y] for y in sorted(d.city)]
        if not rows:
            return el("section", *body, el("p", "尚无数据 No data yet: mart_city_progress is empty.", class_="none"),
                      id="city")
        share = svg.share_line(
            "chart-city-share", "C1 达标区县占比与目标阶梯 — C1: share of districts attained against the target steps",
            "Line: the share of districts attaining each year; dashed steps: C1's target share in force that year ("
            + self.milestone_text() + "). "
            + "; ".join(f"{r['year']}: {_pct(r.get('attained_share'))} vs {_pct(r.get('target_share'))}" for r in rows),
            rows)
        c4_thr = next((r.get("c4_threshold") for r in reversed(rows) if r.get("c4_threshold") is not None), None)
        c10_thr = next((r.get("c10_threshold") for r in reversed(rows) if r.get("c10_threshold") is not None), None)
        c4 = svg.threshold_bars(
            "chart-c4", "C4 年均新建改扩建学校数 — C4: schools built, rebuilt or expanded per year on average",
            f"Average per year since the plan started, against the threshold {c4_thr}. "
            + "; ".join(f"{r['year']}: {r.get('c4_value')} {svg.symbol(r.get('c4_passed'))}" for r in rows),
            [(r["year"], r.get("c4_value"), r.get("c4_passed")) for r in rows], c4_thr, "所/年 schools a year")
        c10 = svg.threshold_bars(
            "chart-c10", "C10 优质教育集团数 — C10: quality education groups",
            f"Quality education groups reported by the districts, against {c10_thr} (judged from 2025; grey: not "
            "judged yet). " + "; ".join(f"{r['year']}: {r.get('c10_value')} {svg.symbol(r.get('c10_passed'))}"
                                         for r in rows),
            [(r["year"], r.get("c10_value"), r.get("c10_passed")) for r in rows], c10_thr, "个 groups", fmt="{:.0f}")
        figs = [el("figure", el("figcaption", bi("C1 达标占比 vs 目标", "C1 attained share vs target")), share),
                el("figure", el("figcaption", bi("C4 新建改扩建学校", "C4 school building")), c4),
                el("figure", el("figcaption", bi("C10 优质教育集团", "C10 quality education groups")), c10)]
        # the targets as the marts state them (from the catalogue's seeds), never restated here
        note = el("p", self.milestone_text() + f" · C4 ≥ {c4_thr} 所/年 schools a year · C10 ≥ {c10_thr} 个 groups. "
                  "灰色：该年不考核 Grey bars are years in which the target is not judged.", class_="note")
        return el("section", *body, el("div", figs, class_="row"), note, id="city")

    # -- (5) trends -----------------------------------------------------------------------------------
    def trends(self) -> Markup:
        d = self.d
        body: list[Any] = [el("h2", bi("区县趋势", "Each district's trend"))]
        years = sorted({y for _, y in d.attainment} | {y for _, y in d.ras})
        if not years:
            return el("section", *body, el("p", "尚无数据 No data yet.", class_="none"), id="trends")
        latest = d.latest_year
        vmax_failed = max([len(r.get("failed_items") or []) for r in d.attainment.values()] + [1])
        head = el("tr", el("th", bi("区县", "District"), scope="col"),
                  el("th", bi("未通过规则数", "Failed rules per year"), scope="col"),
                  el("th", bi("RA-S 达标学段占比", "Sections passing RA-S"), scope="col"),
                  el("th", bi("逐年达标", "Attained by year"), scope="col"),
                  el("th", bi(f"{latest} 落后原因", "Behind reasons"), scope="col"))
        trs = []
        for dist in d.districts:
            code, name = dist["code"], dist["name_zh"]
            verdicts = {y: (d.attainment.get((code, y)) or {}).get("attained") for y in years}
            failed_pts = [(y, float(len(d.attainment[(code, y)].get("failed_items") or []))
                           if (code, y) in d.attainment else None, verdicts[y]) for y in years]
            ras_pts = [(y, d.ras[(code, y)][0] / d.ras[(code, y)][1] if d.ras.get((code, y), (0, 0))[1] else None,
                        verdicts[y]) for y in years]
            if all(v is None for _, v, _ in failed_pts) and all(v is None for _, v, _ in ras_pts):
                continue
            spark_f = svg.sparkline(
                f"spark-failed-{code}", f"{name} 各年未通过规则数 — failed rules per year, {dist['name_en']}",
                "; ".join(f"{y}: {'no data' if v is None else int(v)} failed, {svg.symbol(a)}"
                          for y, v, a in failed_pts), failed_pts, vmax_failed)
            spark_r = svg.sparkline(
                f"spark-ras-{code}", f"{name} RA-S 达标学段占比 — share of sections passing RA-S, {dist['name_en']}",
                "; ".join(f"{y}: {'no data' if v is None else f'{v:.0%}'}" for y, v, _ in ras_pts), ras_pts, 1.0,
                fmt="{:.0%}")
            first_f = next((v for _, v, _ in failed_pts if v is not None), None)
            last_f = next((v for _, v, _ in reversed(failed_pts) if v is not None), None)
            last_r = next((v for _, v, _ in reversed(ras_pts) if v is not None), None)
            dots = [join(mark(verdicts[y], f"{y}: {_yes_no(verdicts[y], '达标 attained', '未达标 not attained')}"),
                         el("span", str(y)[2:], class_="spark-val"), " ") for y in years]
            acc = d.accountability.get((code, latest)) if latest is not None else None
            reasons = list(acc.get("behind_reasons") or []) if acc else []
            on_track = acc.get("on_track") if acc else None
            reason_cell = [mark(on_track, _yes_no(on_track, "如期 on track", "落后 behind")), " ",
                           _yes_no(on_track, "如期 on track", "落后 behind", "待定 undecided")]
            if reasons:
                reason_cell.append(el("ul", [el("li", x) for x in reasons]))
            trs.append(el("tr", self.district_cell(code),
                          el("td", spark_f, el("span", f"{first_f:.0f} → {last_f:.0f}" if first_f is not None
                                               and last_f is not None else "", class_="spark-val"),
                             class_="spark-cell"),
                          el("td", spark_r, el("span", f"{last_r:.0%}" if last_r is not None else "",
                                               class_="spark-val"), class_="spark-cell"),
                          el("td", dots, class_="years-dots"),
                          el("td", reason_cell, class_="reasons")))
        table = el("table", el("caption", "区县趋势 District trends", class_="sr-only"), el("thead", head),
                   el("tbody", trs), class_="trends", id="district-trends")
        note = el("p", f"折线：{years[0]}–{years[-1]} 年未通过规则数与通过 RA-S 的学段占比；圆点颜色为当年是否达标"
                       "（空心为待定）。 Lines: failed rules and the share of sections passing RA-S per year; each "
                       "dot is coloured by the year's attainment (hollow: undecided).", class_="note")
        return el("section", *body, note, el("div", table, class_="table-wrap"), id="trends")

    # -- (6) alerts -----------------------------------------------------------------------------------
    def alerts(self) -> Markup:
        d = self.d
        body: list[Any] = [el("h2", bi("未解除告警", "Open alerts")),
                           el("p", f"截至 {d.as_of} 仍在触发（firing 且其后无 resolved）的告警。 Alerts firing at the "
                                   f"end of {d.as_of} with no later resolution (mart_alerts: "
                                   f"{d.alerts_rows} state changes).", class_="note")]
        if not d.alerts:
            return el("section", *body, el("p", "无 none — 没有未解除的告警 No open alerts.", class_="none",
                                           id="alerts-none"), id="alerts")
        head = el("tr", *[el("th", bi(zh, en), scope="col") for zh, en in
                          (("级别", "Severity"), ("区县", "District"), ("规则", "Rule"), ("开始", "Since"),
                           ("摘要", "Summary"))])
        trs = []
        for a in d.alerts:
            code = a.get("district_code")
            sev = a.get("severity") or "?"
            trs.append(el("tr", el("td", el("span", sev, class_=f"sev {sev}" if sev in SEVERITY_ORDER else "sev")),
                          self.district_cell(code) if code else el("th", "全市 City", class_="district", scope="row"),
                          el("td", a.get("rule_id") or "—", title=self.rule_label(a["rule_id"]) if a.get("rule_id")
                             else None),
                          el("td", str(a.get("starts_at") or "—")),
                          el("td", a.get("summary") or ""), data_alert=a["alert_id"]))
        table = el("table", el("caption", "未解除告警 Open alerts", class_="sr-only"), el("thead", head),
                   el("tbody", trs), class_="alerts", id="alerts-table")
        return el("section", *body, table, id="alerts")

    def footer(self) -> Markup:
        return el("footer", el("p", "数据来源 Source: ", el("code", WarehouseLayout(".").database.name), " — mart_city_progress, "
                                    "mart_district_attainment, mart_district_accountability, mart_district_balance, "
                                    "mart_school_section_status, mart_alerts (dbt)。 标准 Standard: 教督〔2017〕6号 "
                                    "《县域义务教育优质均衡发展督导评估办法》 and Qingdao's plan (C1–C13)."),
                  el("p", "本页离线可用，不加载任何外部资源。 This page is self-contained and loads nothing from the "
                          "network. Generated by junheng.report."))

    def body(self) -> Markup:
        return join(self.header(), el("main", self.headline(), self.matrix(), self.balance(), self.city(),
                                      self.trends(), self.alerts()), self.footer())


# ---------------------------------------------------------------------------------------------------
# the page

def _asset(*parts: str) -> str:
    return resources.files("junheng.report").joinpath(*parts).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_report(data: ReportData) -> str:
    """The page as a string."""
    css, script = _asset("static", "report.css"), _asset("static", "report.js")
    for name, text in (("report.css", css), ("report.js", script)):
        if re.search(r"</(style|script)", text, re.I):
            raise ReportError(f"{name} must not close its own element")
    # the template wraps each asset in newlines; the CSP hashes must cover exactly the element's text
    csp = ("default-src 'none'; "
           f"style-src {_sha256(chr(10) + css + chr(10))}; script-src {_sha256(chr(10) + script + chr(10))}; "
           "img-src data:; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")
    page = _Page(data)
    title = "青岛市义务教育优质均衡发展监测报告 — Junheng report"
    if data.latest_year is not None:
        title += f" {data.years[0]}–{data.latest_year}"
    return Template(_asset("templates", "report.html")).substitute(
        csp=csp, title=esc(title), css=css, script=script, body=page.body())


def write_report(warehouse: Path, out: Path | None = None, as_of: dt.date | None = None, *,
                 database: Path | None = None) -> Path:
    """Build the report of `warehouse` (the folder holding junheng.duckdb) and write it as one static
    HTML file, by default `<warehouse>/report/index.html`. `as_of` (default today) is printed on the
    page and decides which alerts are open (state changes after it are ignored); the deadlines D1–D3
    are those judged by dbt (its `as_of` var), as the marts hold them. `database`: the marts to read
    (default the published marts readers open, `<warehouse>/junheng.duckdb`; a build passes the
    version it just published, so its report shows its own marts). Returns the path written."""
    warehouse = Path(warehouse)
    data = load_report_data(Path(database) if database is not None else WarehouseLayout(warehouse).database, as_of)
    data.warehouse = warehouse
    html_text = render_report(data)
    target = Path(out) if out is not None else WarehouseLayout(warehouse).report
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(target)
    return target
