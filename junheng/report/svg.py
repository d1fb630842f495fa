"""Inline SVG charts, drawn in Python: no script, no external resource.

Every chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>` (aria-labelledby), so a
screen reader announces what it shows; marks carry `<title>` tooltips with the exact figures.
Colours always come with a shape or a symbol (✓ ✗ ?), never alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from junheng.report.markup import Markup, el, join, num

PASS, FAIL, UNDECIDED, NEUTRAL, TARGET = "#1a7f37", "#cf222e", "#b7791f", "#8c959f", "#0550ae"
FONT = 11


def colour(verdict: bool | None) -> str:
    return PASS if verdict is True else FAIL if verdict is False else UNDECIDED


def symbol(verdict: bool | None) -> str:
    return "✓" if verdict is True else "✗" if verdict is False else "?"


def chart(
    chart_id: str, title: str, desc: str, width: float, height: float, *body: object, class_: str = "chart"
) -> Markup:
    """The accessible SVG shell: role=img, labelled by its <title> and described by its <desc>."""
    return el(
        "svg",
        el("title", title, id=f"{chart_id}-title"),
        el("desc", desc, id=f"{chart_id}-desc"),
        *body,
        id=chart_id,
        class_=class_,
        role="img",
        viewBox=f"0 0 {num(width)} {num(height)}",
        width=num(width),
        height=num(height),
        aria_labelledby=f"{chart_id}-title",
        aria_describedby=f"{chart_id}-desc",
        focusable="false",
    )


def text(
    x: float,
    y: float,
    content: object,
    anchor: str = "start",
    size: float = FONT,
    fill: str = "#24292f",
    weight: str | None = None,
    class_: str | None = None,
) -> Markup:
    return el(
        "text",
        content,
        x=num(x),
        y=num(y),
        text_anchor=anchor,
        font_size=num(size),
        fill=fill,
        font_weight=weight,
        class_=class_,
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    stroke: str = "#d0d7de",
    width: float = 1,
    dash: str | None = None,
    class_: str | None = None,
) -> Markup:
    return el(
        "line",
        x1=num(x1),
        y1=num(y1),
        x2=num(x2),
        y2=num(y2),
        stroke=stroke,
        stroke_width=num(width),
        stroke_dasharray=dash,
        class_=class_,
    )


def rect(
    x: float,
    y: float,
    w: float,
    h: float,
    fill: str,
    tip: str | None = None,
    class_: str | None = None,
    **extra: object,
) -> Markup:
    return el(
        "rect",
        el("title", tip) if tip else None,
        x=num(x),
        y=num(y),
        width=num(max(w, 0)),
        height=num(max(h, 0)),
        fill=fill,
        class_=class_,
        **extra,
    )


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


# ---------------------------------------------------------------------------------------------------
# (1) districts attained per year against C1's target share


def attainment_bars(chart_id: str, title: str, desc: str, rows: Sequence[dict[str, Any]]) -> Markup:
    """One horizontal bar per year: attained share (solid), undecided share (hatched), target tick."""
    left, right, bar_w, row_h = 48, 170, 420, 30
    width, height = left + bar_w + right, 28 + row_h * max(len(rows), 1) + 8
    x_of: Callable[[float], float] = lambda share: left + bar_w * max(0.0, min(1.0, share))  # noqa: E731
    body: list[Markup] = [
        el(
            "defs",
            el(
                "pattern",
                el("path", d="M0,6 L6,0", stroke=UNDECIDED, stroke_width="1.5"),
                id=f"{chart_id}-hatch",
                width="6",
                height="6",
                patternUnits="userSpaceOnUse",
            ),
        )
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(line(x_of(tick), 18, x_of(tick), height - 6, dash="2 3"))
        body.append(text(x_of(tick), 13, pct(tick), anchor="middle", size=10, fill="#57606a"))
    for i, r in enumerate(rows):
        y = 24 + i * row_h
        total = r.get("districts_total") or 0
        attained = r.get("districts_attained") or 0
        undecided = r.get("districts_undecided") or 0
        share = r.get("attained_share")
        if share is None:
            share = attained / total if total else 0.0
        und_share = undecided / total if total else 0.0
        target = r.get("target_share")
        verdict = r.get("on_track")
        body.append(text(left - 8, y + 15, r["year"], anchor="end", weight="600"))
        body.append(rect(left, y + 4, bar_w, row_h - 10, "#f6f8fa"))
        body.append(
            rect(
                left,
                y + 4,
                x_of(share) - left,
                row_h - 10,
                colour(verdict),
                tip=f"{r['year']}: {attained}/{total} 达标 attained ({pct(share)})",
                class_="bar-attained",
            )
        )
        if und_share > 0:
            body.append(
                rect(
                    x_of(share),
                    y + 4,
                    x_of(share + und_share) - x_of(share),
                    row_h - 10,
                    f"url(#{chart_id}-hatch)",
                    tip=f"{r['year']}: {undecided} 待定 undecided",
                    class_="bar-undecided",
                )
            )
        if target is not None:
            tx = x_of(target)
            body.append(
                el(
                    "g",
                    el("title", f"{r['year']} 目标 target {pct(target)}"),
                    line(tx, y + 1, tx, y + row_h - 3, stroke=TARGET, width=3),
                    class_="target-mark",
                )
            )
        label = f"{attained}/{total} · {pct(share)}  目标 target {pct(target)}  {symbol(verdict)}"
        body.append(text(left + bar_w + 8, y + 15, label, fill=colour(verdict) if verdict is not True else "#24292f"))
    return chart(chart_id, title, desc, width, height, *body)


# ---------------------------------------------------------------------------------------------------
# (4) the city's share against the target steps; C4 and C10 against their thresholds


def share_line(chart_id: str, title: str, desc: str, rows: Sequence[dict[str, Any]]) -> Markup:
    left, top, plot_w, plot_h = 44, 16, 420, 170
    width, height = left + plot_w + 24, top + plot_h + 46
    years = [r["year"] for r in rows]
    n = len(years)
    step = plot_w / max(n, 1)
    x_of: Callable[[float], float] = lambda i: left + step * (i + 0.5)  # noqa: E731
    y_of: Callable[[float], float] = lambda v: top + plot_h * (1 - max(0.0, min(1.0, v)))  # noqa: E731
    body: list[Markup] = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(line(left, y_of(tick), left + plot_w, y_of(tick), dash=None if tick == 0 else "2 3"))
        body.append(text(left - 6, y_of(tick) + 4, pct(tick), anchor="end", size=10, fill="#57606a"))
    for i, y in enumerate(years):
        body.append(text(x_of(i), top + plot_h + 16, y, anchor="middle"))
    # target: a step held from each year until the next
    targets = [r.get("target_share") for r in rows]
    d, prev = [], None
    for i, t in enumerate(targets):
        if t is None:
            prev = None
            continue
        x0, x1 = left + step * i, left + step * (i + 1)
        if prev is None:
            d.append(f"M{num(x0)},{num(y_of(t))}")
        else:
            d.append(f"V{num(y_of(t))}")
        d.append(f"H{num(x1)}")
        prev = t
    if d:
        body.append(
            el(
                "path",
                el(
                    "title",
                    "C1 目标 target: "
                    + ", ".join(f"{y} {pct(t)}" for y, t in zip(years, targets, strict=True) if t is not None),
                ),
                d=" ".join(d),
                fill="none",
                stroke=TARGET,
                stroke_width="2.5",
                stroke_dasharray="6 4",
                class_="target-step",
            )
        )
    pts = [(x_of(i), y_of(r["attained_share"]), r) for i, r in enumerate(rows) if r.get("attained_share") is not None]
    if len(pts) > 1:
        body.append(
            el(
                "polyline",
                points=" ".join(f"{num(x)},{num(y)}" for x, y, _ in pts),
                fill="none",
                stroke="#24292f",
                stroke_width="2",
                class_="share-line",
            )
        )
    for x, y, r in pts:
        v = r.get("on_track")
        tip = (
            f"{r['year']}: {r.get('districts_attained')}/{r.get('districts_total')} = {pct(r['attained_share'])}, "
            f"目标 target {pct(r.get('target_share'))}, {symbol(v)}"
        )
        body.append(
            el(
                "circle",
                el("title", tip),
                cx=num(x),
                cy=num(y),
                r="5",
                fill=colour(v),
                stroke="#fff",
                stroke_width="1.5",
                class_="share-point",
            )
        )
        body.append(text(x, y - 9, pct(r["attained_share"]), anchor="middle", size=10, weight="600"))
    ly = top + plot_h + 36
    body.append(line(left, ly - 4, left + 24, ly - 4, stroke=TARGET, width=2.5, dash="6 4"))
    body.append(text(left + 30, ly, "C1 目标 target share", size=10))
    body.append(line(left + 170, ly - 4, left + 194, ly - 4, stroke="#24292f", width=2))
    body.append(text(left + 200, ly, "达标区县占比 attained share", size=10))
    return chart(chart_id, title, desc, width, height, *body)


def threshold_bars(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[tuple[int, float | None, bool | None]],
    threshold: float | None,
    unit: str,
    fmt: str = "{:.1f}",
) -> Markup:
    """Bars per year with the target's threshold as a dashed line (C4, C10)."""
    left, top, plot_w, plot_h = 12, 16, 240, 150
    width, height = left + plot_w + 56, top + plot_h + 24
    values = [v for _, v, _ in points if v is not None]
    vmax = max(values + ([threshold] if threshold is not None else []) + [1.0]) * 1.15
    n = max(len(points), 1)
    step = plot_w / n
    y_of: Callable[[float], float] = lambda v: top + plot_h * (1 - v / vmax)  # noqa: E731
    body: list[Markup] = [line(left, top + plot_h, left + plot_w, top + plot_h, stroke="#8c959f")]
    for i, (year, v, verdict) in enumerate(points):
        x = left + step * i + step * 0.2
        body.append(text(left + step * (i + 0.5), top + plot_h + 15, year, anchor="middle"))
        if v is None:
            body.append(text(left + step * (i + 0.5), top + plot_h - 6, "—", anchor="middle", fill=NEUTRAL))
            continue
        state = {True: "达到 meets", False: "未达到 misses", None: "未判定 not judged"}[verdict]
        body.append(
            rect(
                x,
                y_of(v),
                step * 0.6,
                top + plot_h - y_of(v),
                colour(verdict) if verdict is not None else NEUTRAL,
                tip=f"{year}: {fmt.format(v)} {unit} — {state}",
                class_="bar",
            )
        )
        body.append(text(left + step * (i + 0.5), y_of(v) - 4, fmt.format(v), anchor="middle", size=10))
    if threshold is not None:
        ty = y_of(threshold)
        body.append(
            el(
                "g",
                el("title", f"阈值 threshold {fmt.format(threshold)} {unit}"),
                line(left, ty, left + plot_w, ty, stroke=TARGET, width=2, dash="6 4"),
                class_="threshold",
            )
        )
        body.append(text(left + plot_w + 4, ty + 4, f"≥ {fmt.format(threshold)}", size=10, fill=TARGET, weight="600"))
    return chart(chart_id, title, desc, width, height, *body)


# ---------------------------------------------------------------------------------------------------
# (3) one coefficient of variation per district, against the level's threshold


def cv_bars(
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, str, dict[str, Any] | None]],
    threshold: float | None,
) -> Markup:
    """rows: (label, full name, balance row or None). Horizontal bars, threshold as a dashed line."""
    left, top, plot_w, row_h = 52, 22, 150, 15
    width, height = left + plot_w + 40, top + row_h * max(len(rows), 1) + 8
    cvs = [r["cv"] for _, _, r in rows if r is not None and r.get("cv") is not None]
    xmax = max(cvs + ([threshold * 1.25] if threshold else []) + [0.1]) * 1.05
    x_of: Callable[[float], float] = lambda v: left + plot_w * max(0.0, min(v, xmax)) / xmax  # noqa: E731
    body: list[Markup] = [line(left, top - 4, left, height - 4, stroke="#8c959f")]
    for i, (label, name, r) in enumerate(rows):
        y = top + i * row_h
        body.append(text(left - 4, y + 10, label, anchor="end", size=10))
        if r is None:
            body.append(text(left + 4, y + 10, "— 无 none", size=9, fill=NEUTRAL))
            continue
        cv, passed = r.get("cv"), r.get("passed")
        if cv is None:
            body.append(text(left + 4, y + 10, "? " + (r.get("reason") or "no value"), size=9, fill=UNDECIDED))
            continue
        comparator = r.get("comparator") or "<="
        verdict = {True: "passes", False: "fails", None: "undecided"}[passed]
        tip = (
            f"{name}: CV {cv:.3f} (阈值 threshold {comparator} {threshold}) {symbol(passed)} {verdict}; "
            f"{r.get('sections')} 学段 sections, {r.get('students')} 学生 students"
            + (f"; {r['reason']}" if r.get("reason") else "")
        )
        body.append(
            rect(
                left,
                y + 2,
                x_of(cv) - left,
                row_h - 4,
                colour(passed),
                tip=tip,
                class_="cv-bar",
                data_passed=str(passed).lower(),
            )
        )
        body.append(
            text(
                x_of(cv) + 3,
                y + 10.5,
                f"{cv:.2f}" + ("" if passed is True else " " + symbol(passed)),
                size=9,
                fill=colour(passed) if passed is not True else "#57606a",
            )
        )
    if threshold is not None:
        tx = x_of(threshold)
        body.append(
            el(
                "g",
                el("title", f"阈值 threshold CV ≤ {threshold}"),
                line(tx, top - 6, tx, height - 4, stroke=FAIL, width=1.5, dash="4 3"),
                class_="threshold",
            )
        )
        body.append(text(tx, top - 9, f"≤ {threshold:g}", anchor="middle", size=9, fill=FAIL, weight="600"))
    return chart(chart_id, title, desc, width, height, *body, class_="chart cv")


# ---------------------------------------------------------------------------------------------------
# (5) sparklines


def sparkline(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[tuple[int, float | None, bool | None]],
    vmax: float,
    fmt: str = "{:.0f}",
    width: float = 150,
    height: float = 34,
) -> Markup:
    """points: (year, value, verdict of the year). The line joins the known values; each dot is
    coloured by the year's verdict (attained ✓ green, not ✗ red, undecided ? amber, hollow)."""
    pad = 5
    n = len(points)
    step = (width - 2 * pad) / max(n - 1, 1)
    vmax = vmax or 1.0
    x_of: Callable[[float], float] = lambda i: pad + step * i if n > 1 else width / 2  # noqa: E731
    y_of: Callable[[float], float] = lambda v: height - pad - (height - 2 * pad) * (v / vmax)  # noqa: E731
    body: list[Markup] = [line(pad, height - pad, width - pad, height - pad, stroke="#eaeef2")]
    known = [(x_of(i), y_of(v)) for i, (_, v, _) in enumerate(points) if v is not None]
    if len(known) > 1:
        body.append(
            el(
                "polyline",
                points=" ".join(f"{num(x)},{num(y)}" for x, y in known),
                fill="none",
                stroke="#57606a",
                stroke_width="1.5",
            )
        )
    for i, (year, v, verdict) in enumerate(points):
        if v is None:
            continue
        body.append(
            el(
                "circle",
                el("title", f"{year}: {fmt.format(v)} {symbol(verdict)}"),
                cx=num(x_of(i)),
                cy=num(y_of(v)),
                r="3.2",
                fill="#fff" if verdict is None else colour(verdict),
                stroke=colour(verdict),
                stroke_width="1.5",
            )
        )
    return chart(chart_id, title, desc, width, height, *body, class_="spark")


__all__ = [
    "attainment_bars",
    "share_line",
    "threshold_bars",
    "cv_bars",
    "sparkline",
    "chart",
    "colour",
    "symbol",
    "pct",
    "join",
]
