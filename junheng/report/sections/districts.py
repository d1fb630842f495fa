"""Per district, what to act on: why it is behind in words, the rules it fails by name, and its failing
schools by name with what each lacks (and, when `mart_school_gap_to_pass` exists, the options that
make each pass); when `mart_district_outlook` exists, the outlook chart and each district's projected
year against its declared one; when `mart_district_gap_to_pass` exists, each failing item's distance.

The latest statistical year is reported: it is the one a bureau can still change.
"""

from __future__ import annotations

from typing import Any

from junheng.report.markup import Markup, el, join
from junheng.report.reasons import explain
from junheng.report.sections.common import Ctx, bi, mark, reason_items, yes_no
from junheng.report.sections.gaps import district_gap_table, school_table
from junheng.report.svg_outlook import OutlookRow, outlook_chart

__all__ = ["districts"]


def _failed_rules(ctx: Ctx, code: str, year: int) -> Markup | None:
    r = ctx.d.attainment.get((code, year)) or {}
    from junheng.report.data import sort_ids

    failed, undecided = sort_ids(r.get("failed_items")), sort_ids(r.get("undecided_items"))
    if not failed and not undecided:
        return None
    items = [el("li", ctx.rule_named(i), class_="fail") for i in failed]
    items += [
        el("li", ctx.rule_named(i), " ", el("span", "待定 undecided", class_="tag und"), class_="und")
        for i in undecided
    ]
    return el(
        "div",
        el("h4", bi(f"未通过的规则（{len(failed)}）", f"Rules failed ({len(failed)})")),
        el("ul", items, class_="rule-list"),
        class_="failed-rules",
    )


def _balance_reasons(ctx: Ctx, code: str, year: int) -> Markup | None:
    """The district's coefficients above their threshold, in words."""
    rows = [r for r in ctx.d.balance_of(code, year) if r.get("passed") is False]
    if not rows:
        return None
    level_zh = {"primary": "小学", "junior": "初中"}
    items = []
    for r in rows:
        reasons = explain(r.get("reason") or f"CV {r.get('cv')} above {r.get('threshold')}", "RA-CV", ctx.d.book)
        zh, en = ctx.d.rule_name(r["indicator"])
        items.append(
            el(
                "li",
                el("span", f"{level_zh.get(r['level'], r['level'])} {r['indicator']} {zh}", class_="zh"),
                " ",
                el("span", f"{r['level']} {en}", class_="en", lang="en"),
                "：",
                join(
                    *[
                        join(el("span", x.zh, class_="zh"), " ", el("span", x.en, class_="en", lang="en"))
                        for x in reasons
                    ]
                ),
            )
        )
    return el(
        "div",
        el("h4", bi("校际差异系数超标（RA-CV）", "Coefficients above threshold (RA-CV)")),
        el("ul", items, class_="reasons-list"),
        class_="balance-reasons",
    )


def _status(ctx: Ctx, code: str, year: int) -> Markup:
    att = (ctx.d.attainment.get((code, year)) or {}).get("attained")
    acc = ctx.d.accountability.get((code, year)) or {}
    on_track = acc.get("on_track")
    declared = ctx.declared_year(code)
    parts: list[Any] = [
        mark(att, yes_no(att, "达标 attained", "未达标 not attained")),
        " ",
        f"{year} 年 {yes_no(att, '达标 attained', '未达标 not attained')}",
        " · ",
        mark(on_track, yes_no(on_track, "如期 on track", "落后 behind")),
        " ",
        yes_no(on_track, "如期 on track", "落后 behind"),
    ]
    if declared is not None:
        parts += [" · ", f"申报创建年度 declared year {declared}"]
    outlook = _outlook_row(ctx, code)
    if outlook is not None:
        projected = outlook.get("district_projected_year")
        parts += [
            " · ",
            f"预计达标 projected {projected}" if projected is not None else "按当前趋势不达标 not at this rate",
        ]
        if outlook.get("at_risk"):
            parts += [" ", el("span", "⚠ 有风险 at risk", class_="tag risk")]
    return el("p", parts, class_="status")


def _outlook_row(ctx: Ctx, code: str) -> dict[str, Any] | None:
    rows = (ctx.d.outlook or {}).get(code) or []
    return rows[0] if rows else None


def _risk(ctx: Ctx, code: str) -> Markup | None:
    rows = (ctx.d.outlook or {}).get(code) or []
    if not rows or not rows[0].get("at_risk"):
        return None
    items = []
    drivers = set(rows[0].get("risk_items") or [])
    for r in rows:
        item = r.get("item")
        if not item or (drivers and item not in drivers):
            continue
        year = r.get("item_projected_year")
        when = (
            f"预计 {year} 年达到 projected to pass in {year}"
            if year is not None
            else "按当前趋势无法达到 not at this rate"
        )
        items.append(
            el(
                "li",
                ctx.rule_named(item.split(" ")[0]),
                f" {item.split(' ', 1)[1]}" if " " in item else None,
                "：",
                when,
            )
        )
    return (
        el(
            "div",
            el("h4", bi("风险项（预测）", "Items driving the risk (outlook)")),
            el("ul", items),
            class_="risk-items",
        )
        if items
        else None
    )


def _district(ctx: Ctx, code: str, year: int) -> Markup:
    acc = ctx.d.accountability.get((code, year)) or {}
    reasons = list(acc.get("behind_reasons") or [])
    parts: list[Any] = [
        el(
            "h3",
            ctx.short(code),
            " ",
            el("span", code, class_="code"),
            " ",
            el("span", ctx.name_en(code), class_="en", lang="en"),
        ),
        _status(ctx, code, year),
    ]
    if reasons:
        parts.append(
            el("div", el("h4", bi("落后原因", "Why it is behind")), reason_items(ctx, reasons), class_="behind")
        )
    parts += [
        _failed_rules(ctx, code, year),
        _balance_reasons(ctx, code, year),
        _risk(ctx, code),
        district_gap_table(ctx, code),
        school_table(ctx, code, year),
    ]
    return el("article", *parts, class_="district-card", id=f"district-{code}", data_district=code)


def _acting(ctx: Ctx, code: str, year: int) -> bool:
    """Whether the district has anything to act on in `year`."""
    att = ctx.d.attainment.get((code, year)) or {}
    acc = ctx.d.accountability.get((code, year)) or {}
    outlook = _outlook_row(ctx, code) or {}
    return bool(
        att.get("attained") is not True
        or acc.get("on_track") is not True
        or acc.get("behind_reasons")
        or ctx.d.failing_sections.get(code)
        or outlook.get("at_risk")
    )


def _outlook(ctx: Ctx) -> Markup | None:
    if ctx.d.outlook is None:
        return None
    rows, desc = [], []
    deadline = None
    for dist in ctx.d.districts:
        first = _outlook_row(ctx, dist["code"])
        if first is None:
            continue
        deadline = deadline or first.get("plan_deadline_year")
        row = OutlookRow(
            label=ctx.short(dist["code"]),
            declared=first.get("declared_creation_year"),
            projected=first.get("district_projected_year"),
            attained=first.get("attained"),
            at_risk=first.get("at_risk"),
        )
        rows.append(row)
        desc.append(
            f"{row.label}: declared {row.declared}, projected "
            f"{row.projected if row.projected is not None else 'never at this rate'}"
            + (", at risk" if row.at_risk else "")
        )
    if not rows:
        return el("p", "尚无预测 No outlook yet: mart_district_outlook is empty.", class_="none")
    chart = outlook_chart(
        "chart-outlook",
        "预计达标年度与申报创建年度 — Projected year of attainment against the declared creation year",
        "; ".join(desc),
        rows,
        ctx.d.latest_year or 0,
        deadline,
    )
    return el(
        "figure",
        el("figcaption", bi("达标预测", "Outlook: projected against declared year")),
        chart,
        class_="outlook-figure",
        id="outlook",
    )


def districts(ctx: Ctx) -> Markup:
    d = ctx.d
    body: list[Any] = [el("h2", bi("区县详情：需要采取的行动", "Each district: what to act on"))]
    year = d.latest_year
    if year is None:
        return el("section", *body, el("p", "尚无数据 No data yet.", class_="none"), id="districts")
    body.append(
        el(
            "p",
            f"{year} 年（最新统计年度）。原因以文字与单位列出，“差”为距离阈值的差额。 The latest statistical "
            f"year, {year}; reasons in words with units, and the gap to each threshold.",
            class_="note",
        )
    )
    body.append(_outlook(ctx))
    # not attained first, then behind, then the rest; by code within each
    acting = sorted(
        (x["code"] for x in d.districts if _acting(ctx, x["code"], year)),
        key=lambda c: (
            (d.attainment.get((c, year)) or {}).get("attained") is not False,
            (d.accountability.get((c, year)) or {}).get("on_track") is not False,
            c,
        ),
    )
    fine = [x["code"] for x in d.districts if x["code"] not in acting and (x["code"], year) in d.attainment]
    body += [_district(ctx, code, year) for code in acting]
    if fine:
        body.append(
            el(
                "p",
                mark(True, "达标且如期 attained and on track"),
                " 达标且如期，无需行动 Attained and on track, nothing to act on: ",
                "、".join(ctx.short(c) for c in fine),
                class_="fine",
                id="districts-fine",
            )
        )
    return el("section", *body, id="districts")
