"""Every coefficient of variation (district × level × indicator) against its threshold."""

from __future__ import annotations

from typing import Any

from junheng.report import svg
from junheng.report.data import id_key
from junheng.report.markup import Markup, el
from junheng.report.sections.common import LEVELS, Ctx, bi

__all__ = ["CV_BARS_MAX", "balance", "drawn"]

INDICATORS = ("R1", "R2", "R3", "R4", "R5", "R6", "R7")
#: Bars one chart draws. A city's districts all fit; a province's or a country's (2,800 districts,
#: 70 charts) would make a page of 100+ MiB that takes seconds to render and that no browser shows
#: usefully. Beyond it a chart draws the worst districts (failing, then undecided, then the
#: highest passing coefficients) and counts the rest in a line under the chart; every coefficient
#: stays in mart_district_balance, and every failing district is in the section "to act on".
CV_BARS_MAX = 40

Row = tuple[str, str, "dict[str, Any] | None"]


def _worst_first(row: Row) -> tuple[int, float]:
    r = row[2]
    if r is None:
        return (3, 0.0)
    cv, passed = r.get("cv"), r.get("passed")
    rank = 0 if passed is False else 1 if passed is None or cv is None else 2
    return (rank, -(cv if cv is not None else 0.0))


def drawn(rows: list[Row], limit: int = CV_BARS_MAX) -> tuple[list[Row], str | None]:
    """The rows one chart draws, and a line counting those it leaves out (None: all drawn, in
    the districts' order). Over `limit`, the worst first: what the reader has to act on."""
    if len(rows) <= limit:
        return rows, None
    ordered = sorted(rows, key=_worst_first)
    shown, rest = ordered[:limit], ordered[limit:]
    counts = [0, 0, 0, 0]
    for row in rest:
        counts[_worst_first(row)[0]] += 1
    failing, undecided, passing, missing = counts
    line = (
        f"另有 {len(rest)} 个区县未画出：{passing} 个达标，{failing} 个超阈值，{undecided} 个待定，{missing} 个无数据 — "
        f"{len(rest)} more districts not drawn: {passing} pass, {failing} above threshold, {undecided} undecided, "
        f"{missing} no data (every coefficient is in mart_district_balance)"
    )
    return shown, line


def balance(ctx: Ctx) -> Markup:
    d = ctx.d
    body: list[Any] = [
        el("h2", bi("校际差异系数（RA-CV）", "Coefficients of variation between schools (RA-CV)")),
        el(
            "p",
            "每个区县、学段、指标（R1–R7）按在校生加权的差异系数，虚线为阈值（小学 ≤ 0.50，"
            "初中 ≤ 0.45）。 Each district's enrolment-weighted coefficient of variation per "
            "level and indicator; the dashed line is the level's threshold. Green passes, red "
            f"fails, amber is undecided. 区县多于 {CV_BARS_MAX} 个时，每图只画最差的 {CV_BARS_MAX} 个，其余计数列于图下。 "
            f"With more than {CV_BARS_MAX} districts a chart draws the {CV_BARS_MAX} worst and counts the rest "
            "under the bars.",
            class_="note",
        ),
    ]
    years = sorted({y for _, y, _, _ in d.balance}, reverse=True)
    if not years:
        return el(
            "section",
            *body,
            el("p", "尚无数据 No data yet: mart_district_balance is empty.", class_="none"),
            id="balance",
        )
    with_rows = {k[0] for k in d.balance}
    codes = [x["code"] for x in d.districts if x["code"] in with_rows]
    indicators = sorted({k[3] for k in d.balance}, key=id_key) or list(INDICATORS)
    body.append(
        el(
            "button",
            "展开全部年度 Expand all years",
            type="button",
            id="cv-toggle-all",
            hidden=True,
            aria_pressed="false",
            data_expand="展开全部年度 Expand all years",
            data_collapse="收起往年 Collapse earlier years",
        )
    )
    for year in years:
        rows_y = [r for k, r in d.balance.items() if k[1] == year]
        failing = sum(1 for r in rows_y if r.get("passed") is False)
        undecided = sum(1 for r in rows_y if r.get("passed") is None)
        summary = (
            f"{year} 年：{len(rows_y)} 个系数，{failing} 个超阈值，{undecided} 个待定 — "
            f"{len(rows_y)} coefficients, {failing} above threshold, {undecided} undecided"
        )
        levels = []
        for level, zh, en in LEVELS:
            if not any(k[1] == year and k[2] == level for k in d.balance):
                continue
            threshold = d.thresholds.get(level)
            figs = []
            for ind in indicators:
                every = [(ctx.short(c), f"{ctx.short(c)} {c}", d.balance.get((c, year, level, ind))) for c in codes]
                if all(r is None for _, _, r in every):
                    continue
                rows, left_out = drawn(every)
                name = ctx.rule_label(ind)
                cid = f"cv-{year}-{level}-{ind}"
                title = (
                    f"{year} {zh} {ind} 差异系数 — {en} {ind} coefficient of variation by district "
                    f"(threshold ≤ {threshold:g})"
                    if threshold is not None
                    else f"{year} {zh} {ind} 差异系数 — {en} {ind} coefficient of variation by district"
                )
                desc = "; ".join(
                    f"{label}: "
                    + (
                        "no data"
                        if r is None or r.get("cv") is None
                        else f"CV {r['cv']:.3f} {svg.symbol(r.get('passed'))}"
                    )
                    for label, _, r in rows
                ) + (f"; {left_out}" if left_out else "")
                figs.append(
                    el(
                        "figure",
                        el("figcaption", name),
                        svg.cv_bars(cid, title, desc, rows, threshold),
                        el("p", left_out, class_="cv-more") if left_out else None,
                    )
                )
            levels.append(
                el(
                    "div",
                    el(
                        "h3",
                        bi(
                            f"{zh}（阈值 ≤ {threshold:g}）" if threshold is not None else zh,
                            f"{en} (threshold ≤ {threshold:g})" if threshold is not None else en,
                        ),
                    ),
                    el("div", figs, class_="cv-grid"),
                    class_="level",
                )
            )
        latest = year == years[0]
        body.append(
            el(
                "details",
                el("summary", summary, class_="has-fail" if failing else None),
                levels,
                open=latest,
                class_="cv-year latest" if latest else "cv-year",
                id=f"cv-{year}",
            )
        )
    return el("section", *body, id="balance")
