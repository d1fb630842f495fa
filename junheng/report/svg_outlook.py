"""The outlook chart: per district, the projected year of attainment against its declared creation year.

One row per district on a year axis: a blue diamond at the declared year, a dot at the projected year
(green on or before it, red after it, a red arrow at the right edge with “✗ 按当前趋势不达标 / not at
this rate” when no year is projected), and the plan's deadline as a dashed vertical line. Drawn from
`mart_district_outlook` (one row per district × failing item; the district's columns repeat).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from junheng.report.markup import Markup, el, num
from junheng.report.svg import FAIL, NEUTRAL, PASS, TARGET, chart, line, text

__all__ = ["OutlookRow", "outlook_chart"]


@dataclass(frozen=True)
class OutlookRow:
    label: str  # the district's short name
    declared: int | None
    projected: int | None  # None: not at this rate
    attained: bool | None
    at_risk: bool | None


def outlook_chart(
    chart_id: str, title: str, desc: str, rows: Sequence[OutlookRow], latest: int, deadline: int | None
) -> Markup:
    known = [y for r in rows for y in (r.declared, r.projected) if y is not None] + [latest]
    if deadline is not None:
        known.append(deadline)
    first, last = min(known) - 1, max(known) + 2
    left, top, plot_w, row_h = 74, 44, 420, 20
    width, height = left + plot_w + 120, top + row_h * max(len(rows), 1) + 26
    x_of: Callable[[float], float] = lambda y: left + plot_w * (y - first) / max(last - first, 1)  # noqa: E731
    body: list[Markup] = []
    for tick in range(first, last + 1):
        x = x_of(tick)
        body.append(line(x, top - 6, x, height - 22, stroke="#eaeef2"))
        body.append(text(x, height - 8, tick, anchor="middle", size=10, fill="#57606a"))
    if deadline is not None:
        x = x_of(deadline)
        body.append(
            el(
                "g",
                el("title", f"规划期限 plan deadline {deadline}"),
                line(x, top - 10, x, height - 22, stroke=FAIL, width=1.5, dash="5 3"),
                class_="deadline",
            )
        )
        body.append(text(x, top - 13, f"规划期限 deadline {deadline}", anchor="middle", size=9, fill=FAIL))
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        body.append(text(left - 6, y + 4, r.label, anchor="end", size=11))
        if r.declared is not None:
            x = x_of(r.declared)
            body.append(
                el(
                    "path",
                    el("title", f"{r.label}: 申报创建年度 declared {r.declared}"),
                    d=f"M{num(x)},{num(y - 6)} l6,6 l-6,6 l-6,-6 z",
                    fill=TARGET,
                    class_="declared",
                )
            )
        if r.projected is None:
            x = left + plot_w + 4
            body.append(
                el(
                    "path",
                    el("title", f"{r.label}: 按当前趋势不达标 not at this rate"),
                    d=f"M{num(x - 14)},{num(y)} h12 m-4,-4 l4,4 l-4,4",
                    stroke=FAIL,
                    stroke_width="2",
                    fill="none",
                    class_="projected never",
                )
            )
            body.append(text(x + 2, y + 4, "✗ 不达标 not at this rate", size=9, fill=FAIL))
            continue
        # an attained district's projected year is its latest year of data: nothing to project
        late = not r.attained and r.declared is not None and r.projected > r.declared
        colour = FAIL if late or r.at_risk else PASS
        x = x_of(r.projected)
        if not r.attained and r.declared is not None and r.declared != r.projected:
            body.append(line(x_of(r.declared), y, x, y, stroke=colour, width=1.5))
        verdict = (
            "✓ 已达标 attained"
            if r.attained
            else ("✗ 晚于申报年度 after the declared year" if late else "如期 on time")
        )
        body.append(
            el(
                "circle",
                el("title", f"{r.label}: 预计达标 projected {r.projected} — {verdict}"),
                cx=num(x),
                cy=num(y),
                r="5",
                fill=colour if r.attained or late or r.at_risk else "#fff",
                stroke=colour,
                stroke_width="2",
                class_="projected",
            )
        )
        if r.at_risk:
            body.append(text(left + plot_w + 4, y + 4, "⚠ 有风险 at risk", size=9, fill=FAIL))
    body.append(
        text(
            left,
            12,
            "◆ 申报创建年度 declared year   ● 预计达标年度 projected year（实心绿：已达标 filled green: attained）",
            size=10,
            fill=NEUTRAL,
        )
    )
    return chart(chart_id, title, desc, width, height, *body, class_="chart outlook")
