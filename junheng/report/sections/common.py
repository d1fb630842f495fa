"""What every section uses: bilingual labels, verdict marks, rule labels, district cells.

`Ctx` wraps the `ReportData` with the lookups the sections share (a district's names, a rule's
label, the declared creation year, C1's milestones), so each section module is a few functions of
one job: turning rows into markup.
"""

from __future__ import annotations

from typing import Any

from junheng.report import svg
from junheng.report.data import ReportData
from junheng.report.markup import Markup, el, join

__all__ = ["Ctx", "bi", "mark", "yes_no", "pct", "VERDICT", "LEVELS", "section", "no_data"]

LEVELS = (("primary", "小学", "primary"), ("junior", "初中", "junior secondary"))
VERDICT = {True: ("pass", "✓"), False: ("fail", "✗"), None: ("undecided", "?")}


def bi(zh: str, en: str) -> Markup:
    """A Chinese label followed by its English one."""
    return join(zh, " ", el("span", en, class_="en", lang="en"))


def mark(verdict: bool | None, label: str) -> Markup:
    cls, sym = VERDICT[verdict]
    return el("span", sym, class_=f"mark {cls}", role="img", aria_label=label, title=label)


def yes_no(verdict: bool | None, yes: str = "是 yes", no: str = "否 no", unknown: str = "待定 undecided") -> str:
    return yes if verdict is True else no if verdict is False else unknown


def pct(x: float | None) -> str:
    return svg.pct(x)


def section(anchor: str, *body: Any) -> Markup:
    return el("section", *body, id=anchor)


def no_data(text: str) -> Markup:
    return el("p", text, class_="none")


class Ctx:
    """The report's data with the lookups every section shares."""

    def __init__(self, data: ReportData):
        self.d = data
        self.names = {d["code"]: d for d in data.districts}

    def rule_label(self, rule_id: str) -> str:
        """'C9 教师平均工资… / Teachers' average pay…', or the id alone when the catalogue has no name."""
        zh, en = self.d.rule_name(rule_id)
        return f"{rule_id} {zh} / {en}".strip(" /") if (zh or en) else rule_id

    def rule_named(self, rule_id: str, class_: str = "rule") -> Markup:
        """A rule id with its names visible (printed, not only on hover)."""
        zh, en = self.d.rule_name(rule_id)
        return el(
            "span",
            el("span", rule_id, class_="id"),
            " ",
            zh or None,
            el("span", en, class_="en", lang="en") if en else None,
            class_=class_,
        )

    def district_cell(self, code: str) -> Markup:
        d = self.names.get(code, {"name_zh": code, "name_en": ""})
        return el(
            "th",
            d["name_zh"],
            el("span", code, class_="code"),
            el("span", d["name_en"], class_="en", lang="en") if d["name_en"] else None,
            class_="district",
            scope="row",
        )

    def short(self, code: str) -> str:
        return self.names.get(code, {}).get("name_zh") or code

    def name_en(self, code: str) -> str:
        return self.names.get(code, {}).get("name_en") or code

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
        return (
            "C1："
            + "，".join(f"{y} 年 {pct(t)}" for y, t in steps)
            + " · "
            + ", ".join(f"{pct(t)} by {y}" for y, t in steps)
        )


def reason_items(ctx: Ctx, items: list[str]) -> Markup:
    """`behind_reasons` items as a list, one item a rule: a Chinese line (the id, the rule's name, its
    reasons in words with units and the gap) and the same in English beneath it
    (junheng.report.reasons)."""
    from junheng.report.reasons import explain_item

    lis = []
    for item in items:
        rule_id, reasons = explain_item(item, ctx.d.book)
        zh_name, en_name = ctx.d.rule_name(rule_id) if rule_id else ("", "")
        zh = "；".join(r.zh for r in reasons)
        en = "; ".join(r.en for r in reasons)
        lis.append(
            el(
                "li",
                el(
                    "span",
                    el("span", rule_id, class_="id") if rule_id else None,
                    " ",
                    f"{zh_name}：" if zh_name else None,
                    el("b", zh),
                    class_="zh",
                ),
                el("span", f"{en_name}: " if en_name else None, en, class_="en", lang="en"),
                data_rule=rule_id,
                class_="reason",
            )
        )
    return el("ul", lis, class_="reasons-list")
