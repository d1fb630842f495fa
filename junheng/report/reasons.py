"""The engine's reason strings, in words an official can act on, in Chinese and in English.

The engine writes reasons for logs (`C9: stat.teacher_avg_pay_yuan = 1.089e+05, needs >= 1.122e+05`);
the report writes them as `教师平均工资 10.89 万元，需 ≥ 11.22 万元，差 3,300 元` /
`teachers' average pay 108,900 yuan, needs ≥ 112,200 yuan: short of 3,300 yuan`. Each known shape
of reason (rules/kinds/*.py, rules/accountability.py, rules/city.py, rules/sections.py) is matched by
a pattern; the unit of a value follows from its input's name (junheng.report.units) or from the
rule's check (a ratio scaled by 100 is a percentage); the gap is threshold − value in that unit (for
an upper bound, value − threshold). A reason no pattern knows is shown as the engine wrote it: a
reason is never dropped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from junheng.report.rulebook import RuleBook
from junheng.report.units import UNITS, Unit, fmt_amount, fmt_number, input_label, unit_of

__all__ = ["Reason", "explain", "explain_item", "split_item"]

_CMP_ZH = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
_MILESTONES = {
    "self_assessment": ("区（市）自评", "self-assessment"),
    "city_assessment": ("市级评估", "city assessment"),
    "recognition_application": ("认定申请", "recognition application"),
}
_NUM = r"(-?[\d.]+(?:e[+-]?\d+)?)"


@dataclass(frozen=True)
class Reason:
    """One reason in words: `zh` and `en` sentences; `gap_zh`/`gap_en` the shortfall alone when the
    reason has one (“差 3,300 元” / “short of 3,300 yuan”)."""

    zh: str
    en: str
    gap_zh: str = ""
    gap_en: str = ""


def split_item(text: str) -> tuple[str | None, str]:
    """`'C9: stat.x = 1, needs >= 2'` → `('C9', 'stat.x = 1, needs >= 2')`; no id → (None, text)."""
    m = re.match(r"^([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)?):\s*(.*)$", text.strip(), re.S)
    return (m.group(1), m.group(2)) if m else (None, text.strip())


def _gap(value: float, threshold: float, comparator: str) -> float:
    return threshold - value if comparator in (">=", ">") else value - threshold


def _comparison(
    book: RuleBook, rule_id: str | None, label: str, value: float, comparator: str, threshold: float
) -> Reason:
    """`label = value, needs cmp threshold` in words, with the gap in the input's unit."""
    check = book.check_for(rule_id, label) if rule_id else None
    if "/" in label:
        num, den = label.split("/", 1)
        num_zh, num_en = input_label(num)
        den_zh, den_en = input_label(den)
        name_zh, name_en = f"{num_zh}占{den_zh}的比例", f"{num_en} as a share of {den_en}"
        unit = UNITS["pct"] if check is None or check.scale == 100 else UNITS["none"]
    else:
        name_zh, name_en = input_label(label)
        unit = unit_of(label)
    v_zh, v_en = fmt_amount(value, unit)
    t_zh, t_en = fmt_amount(threshold, unit)
    cmp_zh = _CMP_ZH.get(comparator, comparator)
    zh, en = f"{name_zh} {v_zh}，需 {cmp_zh} {t_zh}", f"{name_en} {v_en}, needs {cmp_zh} {t_en}"
    gap = _gap(value, threshold, comparator)
    if gap <= 0 or not math.isfinite(gap):
        return Reason(zh, en)
    g_zh, g_en = fmt_amount(gap, unit, gap=True)
    word_zh, word_en = ("差", "short of") if comparator in (">=", ">") else ("超出", "over by")
    return Reason(f"{zh}，{word_zh} {g_zh}", f"{en}: {word_en} {g_en}", f"{word_zh} {g_zh}", f"{word_en} {g_en}")


def _rate(book: RuleBook, rule_id: str | None, done: int, base: int, pct: float) -> Reason:
    need_pct = book.param(rule_id, "min_fixed_pct", "min_resolved_pct") if rule_id else None
    zh, en = f"仅 {done}/{base} 所（{fmt_number(pct, 0)}%）", f"only {done} of {base} schools ({fmt_number(pct, 0)}%)"
    if need_pct is None:
        return Reason(zh, en)
    short = max(0, math.ceil(base * float(need_pct) / 100 - 1e-9) - done)
    zh += f"，需 ≥ {fmt_number(float(need_pct), 0)}%"
    en += f", needs ≥ {fmt_number(float(need_pct), 0)}%"
    if not short:
        return Reason(zh, en)
    schools = "school" if short == 1 else "schools"
    return Reason(
        f"{zh}，差 {short} 所", f"{en}: short of {short} {schools}", f"差 {short} 所", f"short of {short} {schools}"
    )


def _milestone(name: str) -> tuple[str, str]:
    return _MILESTONES.get(name, (name.replace("_", " "), name.replace("_", " ")))


def _days_late(on: str, due: str) -> int:
    return (dt.date.fromisoformat(on) - dt.date.fromisoformat(due)).days


Handler = Callable[[RuleBook, "str | None", "re.Match[str]"], Reason]


def _h_compare(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return _comparison(book, rid, m["label"], float(m["v"]), m["cmp"], float(m["t"]))


def _h_cv(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    cv, t = float(m["v"]), float(m["t"])
    g = fmt_number(cv - t, 3)
    return Reason(
        f"差异系数 {fmt_number(cv, 3)}，需 ≤ {fmt_number(t, 2)}，超出 {g}",
        f"coefficient of variation {fmt_number(cv, 3)}, needs ≤ {fmt_number(t, 2)}: over by {g}",
        f"超出 {g}",
        f"over by {g}",
    )


def _h_rate(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return _rate(book, rid, int(m["done"]), int(m["base"]), float(m["pct"]))


def _h_schools_fail(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(
        f"{m['total']} 所学校中 {m['fail']} 所未达标",
        f"{m['fail']} of {m['total']} schools fail",
        f"差 {m['fail']} 所",
        f"{m['fail']} schools to fix",
    )


def _h_lack(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"{m['n']} 所学校缺少数据，待定", f"{m['n']} schools lack inputs: undecided")


def _h_dcy(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"未在申报的创建年度 {m['y']} 年达标", f"not attained by its declared creation year {m['y']}")


def _h_dcy_late(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(
        f"申报创建年度 {m['y']} 年晚于规划期限 {m['p']} 年",
        f"declared creation year {m['y']} is after the plan's deadline {m['p']}",
    )


def _h_deadline_year(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"未在规划期限 {m['y']} 年前达标", f"not attained by the plan's deadline {m['y']}")


def _h_no_milestone(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    zh, en = _milestone(m["what"])
    return Reason(f"截至期限 {m['due']} 未提交{zh}", f"no {en} by the deadline {m['due']}")


def _h_late_milestone(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    zh, en = _milestone(m["what"])
    late = _days_late(m["on"], m["due"])
    return Reason(
        f"{zh}于 {m['on']} 提交，晚于期限 {m['due']}（逾期 {late} 天）",
        f"{en} on {m['on']}, after the deadline {m['due']} ({late} days late)",
        f"逾期 {late} 天",
        f"{late} days late",
    )


def _h_districts(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    attained, total, want = int(m["a"]), int(m["n"]), float(m["p"])
    short = max(0, math.ceil(total * want / 100 - 1e-9) - attained)
    return Reason(
        f"{total} 个区（市）中 {attained} 个达标，规划要求 {fmt_number(want, 0)}%，差 {short} 个区（市）",
        f"{attained} of {total} districts attained, the plan wants {fmt_number(want, 0)}%: short of {short} districts",
        f"差 {short} 个区（市）",
        f"short of {short} districts",
    )


def _h_built(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    avg = float(m["v"])
    need = book.param(rid, "min_per_year_avg") if rid else None
    zh, en = f"年均新建、改扩建学校 {fmt_number(avg, 1)} 所", f"{fmt_number(avg, 1)} schools built or expanded a year"
    if need is None:
        return Reason(zh, en)
    g = fmt_number(float(need) - avg, 1)
    return Reason(
        f"{zh}，需 ≥ {need} 所，差 {g} 所/年",
        f"{en}, needs ≥ {need}: short of {g} a year",
        f"差 {g} 所/年",
        f"short of {g} a year",
    )


def _h_so_far(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    v, need = float(m["v"]), float(m["need"])
    g = fmt_number(math.ceil(need - v), 0)
    return Reason(
        f"目前 {fmt_number(v, 0)} 个，{m['y']} 年前需 {fmt_number(need, 0)} 个，差 {g} 个",
        f"{fmt_number(v, 0)} so far, {fmt_number(need, 0)} needed by {m['y']}: short of {g}",
        f"差 {g} 个",
        f"short of {g}",
    )


def _h_large(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(
        f"仍有大班额 {m['c']} 个、大规模学校 {m['s']} 所",
        f"{m['c']} large classes and {m['s']} large-scale schools remain",
    )


def _h_indicators_below(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"{m['n']} 项指标未达到要求：{m['ids']}", f"{m['n']} indicators below their threshold: {m['ids']}")


def _h_ratio_floor(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(
        f"{m['id']} 仅达到要求的 {m['r']}%，低于 {m['f']}%", f"{m['id']} at {m['r']}% of its threshold, below {m['f']}%"
    )


def _h_inspection(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"督导检查未通过：{m['note']}", f"inspection failed: {m['note']}")


def _h_veto(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"触发否决：{m['note']}", f"veto raised: {m['note']}")


def _h_no_inspection(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"尚无 {m['item']} 的督导检查结果，待定", f"no inspection of {m['item']}: undecided")


def _h_basic(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    return Reason(f"通过基本均衡认定仅 {m['n']} 年，需 3 年以上", f"basic balance only {m['n']} years before")


def _h_yoy(book: RuleBook, rid: str | None, m: re.Match[str]) -> Reason:
    zh, en = input_label(m["name"])
    cmp_zh = _CMP_ZH.get(m["cmp"], m["cmp"])
    return Reason(
        f"{zh} {m['now']}，未 {cmp_zh} 上年 {m['before']}", f"{en} {m['now']} is not {cmp_zh} last year's {m['before']}"
    )


_PATTERNS: list[tuple[re.Pattern[str], Handler]] = [
    (
        re.compile(
            rf"^(?P<label>[\w.]+(?:/[\w.]+)?) = {_NUM.replace('(', '(?P<v>', 1)}, needs (?P<cmp>[<>=]=?) "
            rf"{_NUM.replace('(', '(?P<t>', 1)}$"
        ),
        _h_compare,
    ),
    (re.compile(rf"^CV {_NUM.replace('(', '(?P<v>', 1)} above {_NUM.replace('(', '(?P<t>', 1)}$"), _h_cv),
    (re.compile(r"^only (?P<done>\d+) of (?P<base>\d+)\s*\w*\s*\((?P<pct>[\d.]+)%\)$"), _h_rate),
    (re.compile(r"^(?P<fail>\d+) of (?P<total>\d+) schools fail$"), _h_schools_fail),
    (re.compile(r"^(?P<n>\d+) schools lack .*$"), _h_lack),
    (re.compile(r"^not attained by its declared creation year (?P<y>\d{4})$"), _h_dcy),
    (re.compile(r"^declared creation year (?P<y>\d{4}) is after the plan's (?P<p>\d{4})$"), _h_dcy_late),
    (re.compile(r"^not attained by the plan's deadline (?P<y>\d{4})$"), _h_deadline_year),
    (re.compile(r"^no (?P<what>\w+) by the deadline (?P<due>\d{4}-\d\d-\d\d)$"), _h_no_milestone),
    (
        re.compile(r"^(?P<what>\w+) on (?P<on>\d{4}-\d\d-\d\d), after the deadline (?P<due>\d{4}-\d\d-\d\d)$"),
        _h_late_milestone,
    ),
    (re.compile(r"^(?P<a>\d+) of (?P<n>\d+) districts attained, plan wants (?P<p>[\d.]+)%$"), _h_districts),
    (re.compile(rf"^{_NUM.replace('(', '(?P<v>', 1)} schools built/rebuilt/expanded per year on average$"), _h_built),
    (
        re.compile(
            rf"^{_NUM.replace('(', '(?P<v>', 1)} so far, {_NUM.replace('(', '(?P<need>', 1)} needed by "
            r"(?P<y>\d{4})$"
        ),
        _h_so_far,
    ),
    (re.compile(r"^(?P<c>\d+) large classes and (?P<s>\d+) large-scale schools remain$"), _h_large),
    (re.compile(r"^(?P<n>\d+) indicators below threshold: (?P<ids>.+)$"), _h_indicators_below),
    (re.compile(r"^(?P<id>R\d+) at (?P<r>[\d.]+)% of its threshold, below (?P<f>[\d.]+)%$"), _h_ratio_floor),
    (re.compile(r"^inspection failed: (?P<note>.*)$"), _h_inspection),
    (re.compile(r"^veto raised: (?P<note>.*)$"), _h_veto),
    (re.compile(r"^no inspection of (?P<item>.+)$"), _h_no_inspection),
    (re.compile(r"^basic balance only (?P<n>\d+) years before$"), _h_basic),
    (re.compile(r"^(?P<name>[\w.]+) (?P<now>\S+) not (?P<cmp>[<>=]=?) last year's (?P<before>\S+)$"), _h_yoy),
]


def explain(text: str, rule_id: str | None, book: RuleBook) -> list[Reason]:
    """`text` (one reason, or several joined by '; ' as district_metric writes them) in words."""
    out: list[Reason] = []
    for part in [p.strip() for p in text.split("; ") if p.strip()]:
        for pattern, handler in _PATTERNS:
            m = pattern.match(part)
            if m:
                try:
                    out.append(handler(book, rule_id, m))
                except (ValueError, OverflowError):
                    out.append(Reason(part, part))
                break
        else:
            out.append(Reason(part, part))
    return out


def explain_item(text: str, book: RuleBook) -> tuple[str | None, list[Reason]]:
    """A `behind_reasons` item (`'C9: …'`): its rule id and its reasons in words."""
    rule_id, rest = split_item(text)
    return rule_id, explain(rest, rule_id, book)


def unit_for_indicator(unit_text: str | None) -> Unit:
    """The numerator unit of a section indicator from its per-student unit (`m² per student` → m²)."""
    text = (unit_text or "").lower()
    for key in ("yuan", "m²", "teachers", "rooms"):
        if text.startswith(key):
            return UNITS["m2" if key == "m²" else key]
    return UNITS["none"]
