"""A district's failing schools by name, what each lacks, and the gap-to-pass marts when they exist.

Without `mart_school_gap_to_pass` the report still says what each missed indicator lacks: from
`mart_school_section_indicators`, (threshold − value) per student, and times the section's students
over the indicator's scale, the addition to its input in the input's unit (whole teachers and rooms
rounded up). That is each indicator's own distance to its threshold, not a minimal plan (RA-S lets
one indicator stay at 85 %); with the mart, its options — each a minimal set of changes — are listed.
"""

from __future__ import annotations

from typing import Any

from junheng.report.markup import Markup, el, join
from junheng.report.reasons import explain, unit_for_indicator
from junheng.report.sections.common import Ctx, bi
from junheng.report.units import PER_STUDENT, UNITS, Unit, fmt_amount, fmt_number

__all__ = ["school_table", "district_gap_table", "indicator_gap", "mart_unit"]

SECTION = {"primary": ("小学", "primary"), "junior": ("初中", "junior")}


def mart_unit(unit: str | None) -> Unit:
    """A unit as the gap marts write it (teachers, rooms, m², yuan, …)."""
    text = (unit or "").strip().lower()
    aliases = {
        "m²": "m2",
        "m2": "m2",
        "yuan": "yuan",
        "元": "yuan",
        "teachers": "teachers",
        "人": "teachers",
        "rooms": "rooms",
        "间": "rooms",
        "%": "pct",
        "pct": "pct",
        "schools": "schools",
        "students": "students",
    }
    return UNITS.get(aliases.get(text, ""), Unit(text or "none", text, text))


def indicator_gap(row: dict[str, Any]) -> tuple[str, str]:
    """(zh, en) of one missed indicator: value and threshold per student, and the addition the input needs."""
    ind = row.get("indicator") or "?"
    name_zh = row.get("indicator_name_zh") or ind
    name_en = row.get("indicator_name_en") or ind
    value, threshold = row.get("value"), row.get("threshold")
    per_zh, per_en = PER_STUDENT.get(row.get("unit") or "", (row.get("unit") or "", row.get("unit") or ""))
    if value is None or threshold is None:
        reason = row.get("missing_reason") or "no value"
        return f"{ind} {name_zh}：缺少数据（{reason}）", f"{ind} {name_en}: no value ({reason})"
    zh = f"{ind} {name_zh} {fmt_number(value)} {per_zh}，需 ≥ {fmt_number(threshold)} {per_zh}"
    en = f"{ind} {name_en} {fmt_number(value)} {per_en}, needs ≥ {fmt_number(threshold)} {per_en}"
    students, scale = row.get("students"), row.get("scale") or 1.0
    if students and threshold > value:
        unit = unit_for_indicator(row.get("unit"))
        g_zh, g_en = fmt_amount((threshold - value) * float(students) / float(scale), unit, gap=True)
        zh += f"，差 {g_zh}（{students:,} 名学生）"
        en += f": short of {g_en} ({students:,} students)"
    return zh, en


def _options(ctx: Ctx, rows: list[dict[str, Any]]) -> Markup:
    by_option: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        by_option.setdefault(r.get("option_id"), []).append(r)
    items = []
    for option_id, changes in sorted(by_option.items(), key=lambda kv: (kv[0] is None, kv[0])):
        parts_zh, parts_en = [], []
        for c in changes:
            unit = mart_unit(c.get("unit"))
            a_zh, a_en = fmt_amount(float(c.get("addition") or 0), unit, gap=True)
            name_zh, name_en = ctx.d.rule_name(c.get("indicator") or "")
            cur, target = c.get("current_value"), c.get("target_value")
            span = f"{fmt_number(cur)} → {fmt_number(target)}" if cur is not None and target is not None else ""
            parts_zh.append(f"{c.get('indicator')} {name_zh} 增加 {a_zh}" + (f"（{span}）" if span else ""))
            parts_en.append(f"{c.get('indicator')} +{a_en}" + (f" ({span})" if span else ""))
        items.append(
            el(
                "li",
                el("span", f"方案 {option_id}：" + "；".join(parts_zh), class_="zh"),
                " ",
                el("span", f"option {option_id}: " + "; ".join(parts_en), class_="en", lang="en"),
                data_option=option_id,
            )
        )
    return el("ol", items, class_="options")


def school_table(ctx: Ctx, code: str, year: int) -> Markup | None:
    sections = ctx.d.failing_sections.get(code) or []
    if not sections:
        return None
    with_options = ctx.d.school_gap is not None
    head = [
        el("th", bi("学校", "School"), scope="col"),
        el("th", bi("学段", "Section"), scope="col"),
        el("th", bi("未达标原因与差距", "Why it fails, and the gap"), scope="col"),
    ]
    if with_options:
        head.append(el("th", bi("达标方案（任选其一）", "Options to pass (any one)"), scope="col"))
    trs = []
    for s in sections:
        key = (str(s.get("school_id")), str(s.get("section")), year)
        missed = ctx.d.missed.get(key) or []
        lines = [indicator_gap(m) for m in missed] or [
            (r.zh, r.en) for r in explain(s.get("reason") or "", "RA-S", ctx.d.book)
        ]
        zh_sec, en_sec = SECTION.get(s.get("section") or "", (s.get("section") or "", ""))
        cells: list[Any] = [
            el(
                "th",
                s.get("school_name") or s.get("school_id"),
                el("span", s.get("school_id"), class_="code"),
                scope="row",
                class_="school",
            ),
            el("td", zh_sec, " ", el("span", en_sec, class_="en", lang="en")),
            el(
                "td",
                el(
                    "ul",
                    [
                        el("li", el("span", zh, class_="zh"), " ", el("span", en, class_="en", lang="en"))
                        for zh, en in lines
                    ],
                    class_="reasons-list",
                ),
            ),
        ]
        if with_options:
            options = (ctx.d.school_gap or {}).get(key) or []
            cells.append(el("td", _options(ctx, options) if options else el("span", "—", class_="none")))
        trs.append(el("tr", *cells, data_school=s.get("school_id")))
    caption = f"{ctx.short(code)} {year} 年未达标学校（RA-S） Schools failing RA-S"
    return el(
        "div",
        el("h4", bi(f"未达标学校（{len(sections)}）", f"Schools failing RA-S ({len(sections)})")),
        el(
            "table",
            el("caption", caption, class_="sr-only"),
            el("thead", el("tr", head)),
            el("tbody", trs),
            class_="schools",
        ),
        class_="failing-schools",
    )


def district_gap_table(ctx: Ctx, code: str) -> Markup | None:
    """mart_district_gap_to_pass: each failing item's distance to its threshold (and a balance plan)."""
    if ctx.d.district_gap is None:
        return None
    rows = ctx.d.district_gap.get(code) or []
    if not rows:
        return None
    items = []
    for r in rows:
        unit = mart_unit(r.get("unit"))
        dist_zh, dist_en = fmt_amount(float(r.get("distance") or 0), unit, gap=True)
        rule_id = r.get("rule_id") or str(r.get("item") or "").split(" ")[0]
        extra = r.get("item") if r.get("item") and r.get("item") != rule_id else None
        plan = None
        if r.get("plan_text"):
            plan = el(
                "div",
                f"方案 plan：{r['plan_text']}"
                + (
                    f" → {fmt_number(r['plan_resulting_value'], 3)}"
                    if r.get("plan_resulting_value") is not None
                    else ""
                ),
                class_="plan",
            )
        items.append(
            el(
                "li",
                ctx.rule_named(rule_id),
                f" {extra}" if extra else None,
                "：",
                el("span", f"差 {dist_zh}", class_="zh"),
                " ",
                el("span", f"short of {dist_en}", class_="en", lang="en"),
                plan,
                data_item=r.get("item"),
            )
        )
    return el(
        "div",
        el("h4", bi("区县差距", "District gap to pass")),
        el("ul", items, class_="reasons-list"),
        join(),
        class_="district-gap",
    )
