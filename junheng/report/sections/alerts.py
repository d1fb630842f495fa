"""The open alerts: severity, district, the rule by name, since when, and what it says, Chinese first.

`mart_alerts` carries English summaries; the Chinese line is composed here from the same facts the
alert was raised on: the district's behind reason for the rule (mart_district_accountability), or
for the city's targets the figures of mart_city_progress, in words with units (junheng.report.reasons).
"""

from __future__ import annotations

from typing import Any

from junheng.report.alertstate import SEVERITY_ORDER, since
from junheng.report.markup import Markup, el
from junheng.report.reasons import Reason, explain, explain_item
from junheng.report.sections.common import Ctx, bi

__all__ = ["alerts", "alert_reasons"]

SEVERITY_ZH = {"critical": "严重", "major": "重要", "minor": "一般"}


def _city_reason(ctx: Ctx, rule_id: str, year: int | None) -> list[Reason]:
    row = ctx.d.city.get(year) if year is not None else None
    if row is None:
        return []
    if rule_id == "C1" and row.get("districts_total"):
        return explain(
            f"{row.get('districts_attained') or 0} of {row['districts_total']} districts attained, "
            f"plan wants {100 * (row.get('target_share') or 0):g}%",
            rule_id,
            ctx.d.book,
        )
    if rule_id == "C4" and row.get("c4_value") is not None:
        return explain(f"{row['c4_value']} schools built/rebuilt/expanded per year on average", rule_id, ctx.d.book)
    if rule_id == "C10" and row.get("c10_value") is not None and row.get("c10_threshold") is not None:
        deadline = ctx.d.book.param(rule_id, "deadline_year") or year
        return explain(
            f"{row['c10_value']:g} so far, {row['c10_threshold']:g} needed by {deadline}", rule_id, ctx.d.book
        )
    return []


def alert_reasons(ctx: Ctx, alert: dict[str, Any]) -> list[Reason]:
    """The reasons behind an alert, in words: the district's behind reason for its rule, or the city's
    figures; empty when neither is in the marts."""
    rule_id, code, year = alert.get("rule_id"), alert.get("district_code"), alert.get("year")
    if not rule_id:
        return []
    if code:
        acc = ctx.d.accountability.get((code, int(year))) if year is not None else None
        for item in (acc or {}).get("behind_reasons") or []:
            rid, reasons = explain_item(item, ctx.d.book)
            if rid == rule_id:
                return reasons
        return []
    return _city_reason(ctx, rule_id, int(year) if year is not None else None)


def _summary_cell(ctx: Ctx, alert: dict[str, Any]) -> Markup:
    rule_id, code, year = alert.get("rule_id"), alert.get("district_code"), alert.get("year")
    who = ctx.short(code) if code else "全市"
    reasons = alert_reasons(ctx, alert)
    # the rule's names are in the Rule column beside it
    head = f"{who}{f' {year} 年' if year is not None else ''}未达到 {rule_id or ''}"
    zh = head + ("：" + "；".join(r.zh for r in reasons) if reasons else "")
    # the mart's English summary carries the engine's reason as written; with the reasons in words,
    # the English line says the same as the Chinese one
    en = alert.get("summary") or ""
    if reasons:
        who_en = ctx.name_en(code) if code else "The city"
        en = f"{who_en}{f' ({year})' if year is not None else ''} misses {rule_id}: " + "; ".join(r.en for r in reasons)
    return el("td", el("div", zh, class_="zh"), el("div", en, class_="en", lang="en"), class_="summary")


def alerts(ctx: Ctx) -> Markup:
    d = ctx.d
    body: list[Any] = [
        el("h2", bi("未解除告警", "Open alerts")),
        el(
            "p",
            f"截至 {d.as_of} 仍在触发（firing 且其后无 resolved）的告警；“起始”为区县落后的时间"
            f"（UTC，精确到分钟）。 Alerts firing at the end of {d.as_of} with no later resolution; "
            f"“since” is when the district fell behind (UTC, to the minute; mart_alerts: "
            f"{d.alerts_rows} state changes).",
            class_="note",
        ),
    ]
    if not d.alerts:
        return el(
            "section",
            *body,
            el("p", "无 none — 没有未解除的告警 No open alerts.", class_="none", id="alerts-none"),
            id="alerts",
        )
    head = el(
        "tr",
        *[
            el("th", bi(zh, en), scope="col")
            for zh, en in (
                ("级别", "Severity"),
                ("区县", "District"),
                ("规则", "Rule"),
                ("起始", "Since"),
                ("摘要", "Summary"),
            )
        ],
    )
    trs = []
    for a in d.alerts:
        code = a.get("district_code")
        sev = a.get("severity") or "?"
        trs.append(
            el(
                "tr",
                el(
                    "td",
                    el(
                        "span",
                        f"{SEVERITY_ZH.get(sev, '')} {sev}".strip(),
                        class_=f"sev {sev}" if sev in SEVERITY_ORDER else "sev",
                    ),
                ),
                ctx.district_cell(code) if code else el("th", "全市 City", class_="district", scope="row"),
                el("td", ctx.rule_named(a["rule_id"]) if a.get("rule_id") else "—", class_="rule-cell"),
                el("td", since(a), class_="since"),
                _summary_cell(ctx, a),
                data_alert=a["alert_id"],
            )
        )
    table = el(
        "table",
        el("caption", "未解除告警 Open alerts", class_="sr-only"),
        el("thead", head),
        el("tbody", trs),
        class_="alerts",
        id="alerts-table",
    )
    return el("section", *body, table, id="alerts")
