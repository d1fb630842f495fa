"""The city as a whole: the page header, the headline (districts attained against C1) and the city's
plan targets (C1, C4, C10)."""

from __future__ import annotations

from typing import Any

from junheng.report import svg
from junheng.report.markup import Markup, el
from junheng.report.sections.common import VERDICT, Ctx, bi, mark, pct, yes_no

__all__ = ["header", "headline", "city"]

NAV = [
    ("headline", "总览 Headline"),
    ("districts", "区县详情 Districts"),
    ("matrix", "达标矩阵 Attainment matrix"),
    ("balance", "差异系数 Coefficients of variation"),
    ("city", "全市目标 City targets"),
    ("trends", "区县趋势 District trends"),
    ("alerts", "告警 Alerts"),
]


def header(ctx: Ctx) -> Markup:
    d = ctx.d
    meta = [f"数据截至 As of {d.as_of.isoformat()}"]
    if d.latest_year is not None:
        meta.append(f"统计年度 Statistical years {d.years[0]}–{d.latest_year}")
    if d.deadlines_as_of is not None:
        meta.append(f"期限判定日 Deadlines judged on {d.deadlines_as_of}")
    meta.append(f"区县 Districts {len(d.districts)}")
    return el(
        "header",
        el(
            "h1",
            "青岛市义务教育优质均衡发展监测报告",
            el("span", "Qingdao: high-quality balanced compulsory education — progress report", class_="en", lang="en"),
        ),
        el("p", " · ".join(meta), class_="meta"),
        el("nav", [el("a", label, href=f"#{anchor}") for anchor, label in NAV], aria_label="章节 Sections"),
        class_="top",
    )


def headline(ctx: Ctx) -> Markup:
    d = ctx.d
    rows = [d.city[y] for y in sorted(d.city)]
    body: list[Any] = [el("h2", bi("总览：达标区县与规划目标", "Headline: districts attained against the plan"))]
    if not rows:
        return el(
            "section",
            *body,
            el("p", "尚无数据 No data yet: mart_city_progress is empty.", class_="none"),
            id="headline",
        )
    last = rows[-1]
    total, attained = last.get("districts_total") or 0, last.get("districts_attained") or 0
    on_track = last.get("on_track")
    cards = [
        el(
            "div",
            el("div", f"{last['year']} 年达标区县 Districts attained", class_="label"),
            el("div", f"{attained} / {total}", class_="value"),
            el(
                "div",
                f"{pct(last.get('attained_share'))} · 待定 undecided {last.get('districts_undecided') or 0}",
                class_="sub",
            ),
            class_="card",
            id="card-attained",
        ),
        el(
            "div",
            el("div", "规划目标 Plan target (C1)", class_="label"),
            el("div", pct(last.get("target_share")), class_="value"),
            el("div", ctx.milestone_text(), class_="sub"),
            class_="card",
            id="card-target",
        ),
        el(
            "div",
            el("div", "全市是否如期 City on track", class_="label"),
            el(
                "div",
                mark(on_track, yes_no(on_track, "如期 on track", "落后 behind")),
                " ",
                yes_no(on_track, "如期 on track", "落后 behind", "待定 undecided"),
                class_="value",
            ),
            el(
                "div",
                f"{last['year']}: 达标占比 share {pct(last.get('attained_share'))} vs 目标 target "
                f"{pct(last.get('target_share'))}",
                class_="sub",
            ),
            class_=f"card {VERDICT[on_track][0]}",
            id="card-on-track",
        ),
    ]
    chart = svg.attainment_bars(
        "chart-headline",
        "各年度达标区县占比与规划目标 Districts attained per year against the plan's target share",
        "For each statistical year, the share of districts attaining the standard (solid bar, coloured by "
        "whether the city is on track), districts still undecided (hatched), and C1's target share (blue tick). "
        + "; ".join(
            f"{r['year']}: {r.get('districts_attained')}/{r.get('districts_total')} attained, target "
            f"{pct(r.get('target_share'))}, on track {yes_no(r.get('on_track'))}"
            for r in rows
        ),
        rows,
    )
    head = el(
        "tr",
        el("th", bi("年度", "Year"), scope="col"),
        el("th", bi("达标", "Attained"), scope="col"),
        el("th", bi("待定", "Undecided"), scope="col"),
        el("th", bi("占比", "Share"), scope="col"),
        el("th", bi("目标", "Target"), scope="col"),
        el("th", bi("如期", "On track"), scope="col"),
    )
    trs = [
        el(
            "tr",
            el("th", r["year"], scope="row"),
            el("td", f"{r.get('districts_attained')}/{r.get('districts_total')}", class_="num"),
            el("td", r.get("districts_undecided") or 0, class_="num"),
            el("td", pct(r.get("attained_share")), class_="num"),
            el("td", pct(r.get("target_share")), class_="num"),
            el("td", mark(r.get("on_track"), yes_no(r.get("on_track")))),
        )
        for r in rows
    ]
    table = el(
        "table",
        el("caption", "达标区县（逐年） Districts attained, year by year", class_="sr-only"),
        el("thead", head),
        el("tbody", trs),
        class_="city-table",
    )
    note = el(
        "p",
        "“待定”表示数据不足以判定（缺少输入从不按通过或未通过计）。 Undecided means the data is not "
        "enough to decide: a missing input is never read as a pass or a fail. On track is null while "
        "the undecided districts could still carry the year.",
        class_="note",
    )
    return el(
        "section",
        *body,
        el("div", cards, class_="cards"),
        el("div", el("figure", chart), table, class_="row"),
        note,
        id="headline",
    )


def city(ctx: Ctx) -> Markup:
    d = ctx.d
    body: list[Any] = [el("h2", bi("全市规划目标进展", "The city against its plan's targets"))]
    rows = [d.city[y] for y in sorted(d.city)]
    if not rows:
        return el(
            "section", *body, el("p", "尚无数据 No data yet: mart_city_progress is empty.", class_="none"), id="city"
        )
    share = svg.share_line(
        "chart-city-share",
        "C1 达标区县占比与目标阶梯 — C1: share of districts attained against the target steps",
        "Line: the share of districts attaining each year; dashed steps: C1's target share in force that year ("
        + ctx.milestone_text()
        + "). "
        + "; ".join(f"{r['year']}: {pct(r.get('attained_share'))} vs {pct(r.get('target_share'))}" for r in rows),
        rows,
    )
    c4_thr = next((r.get("c4_threshold") for r in reversed(rows) if r.get("c4_threshold") is not None), None)
    c10_thr = next((r.get("c10_threshold") for r in reversed(rows) if r.get("c10_threshold") is not None), None)
    c4 = svg.threshold_bars(
        "chart-c4",
        "C4 年均新建改扩建学校数 — C4: schools built, rebuilt or expanded per year on average",
        f"Average per year since the plan started, against the threshold {c4_thr}. "
        + "; ".join(f"{r['year']}: {r.get('c4_value')} {svg.symbol(r.get('c4_passed'))}" for r in rows),
        [(r["year"], r.get("c4_value"), r.get("c4_passed")) for r in rows],
        c4_thr,
        "所/年 schools a year",
    )
    c10 = svg.threshold_bars(
        "chart-c10",
        "C10 优质教育集团数 — C10: quality education groups",
        f"Quality education groups reported by the districts, against {c10_thr} (judged from 2025; grey: not "
        "judged yet). "
        + "; ".join(f"{r['year']}: {r.get('c10_value')} {svg.symbol(r.get('c10_passed'))}" for r in rows),
        [(r["year"], r.get("c10_value"), r.get("c10_passed")) for r in rows],
        c10_thr,
        "个 groups",
        fmt="{:.0f}",
    )
    figs = [
        el("figure", el("figcaption", bi("C1 达标占比 vs 目标", "C1 attained share vs target")), share),
        el("figure", el("figcaption", bi("C4 新建改扩建学校", "C4 school building")), c4),
        el("figure", el("figcaption", bi("C10 优质教育集团", "C10 quality education groups")), c10),
    ]
    # the targets as the marts state them (from the catalogue's seeds), never restated here
    note = el(
        "p",
        ctx.milestone_text() + f" · C4 ≥ {c4_thr} 所/年 schools a year · C10 ≥ {c10_thr} 个 groups. "
        "灰色：该年不考核 Grey bars are years in which the target is not judged.",
        class_="note",
    )
    return el("section", *body, el("div", figs, class_="row"), note, id="city")
