"""Each district's trend: failed rules and sections passing RA-S per year, with the reasons it is behind."""

from __future__ import annotations

from typing import Any

from junheng.report import svg
from junheng.report.data import sort_ids
from junheng.report.markup import Markup, el, join
from junheng.report.reasons import split_item
from junheng.report.sections.common import Ctx, bi, mark, yes_no

__all__ = ["trends"]


def trends(ctx: Ctx) -> Markup:
    d = ctx.d
    body: list[Any] = [el("h2", bi("区县趋势", "Each district's trend"))]
    years = sorted({y for _, y in d.attainment} | {y for _, y in d.ras})
    if not years:
        return el("section", *body, el("p", "尚无数据 No data yet.", class_="none"), id="trends")
    latest = d.latest_year
    vmax_failed = max([len(r.get("failed_items") or []) for r in d.attainment.values()] + [1])
    head = el(
        "tr",
        el("th", bi("区县", "District"), scope="col"),
        el("th", bi("未通过规则数", "Failed rules per year"), scope="col"),
        el("th", bi("RA-S 达标学段占比", "Sections passing RA-S"), scope="col"),
        el("th", bi("逐年达标", "Attained by year"), scope="col"),
        el("th", bi(f"{latest} 落后原因", "Behind reasons"), scope="col"),
    )
    trs = []
    for dist in d.districts:
        code, name = dist["code"], dist["name_zh"]
        verdicts = {y: (d.attainment.get((code, y)) or {}).get("attained") for y in years}
        failed_pts = [
            (
                y,
                float(len(d.attainment[(code, y)].get("failed_items") or [])) if (code, y) in d.attainment else None,
                verdicts[y],
            )
            for y in years
        ]
        ras_pts = [
            (y, d.ras[(code, y)][0] / d.ras[(code, y)][1] if d.ras.get((code, y), (0, 0))[1] else None, verdicts[y])
            for y in years
        ]
        if all(v is None for _, v, _ in failed_pts) and all(v is None for _, v, _ in ras_pts):
            continue
        spark_f = svg.sparkline(
            f"spark-failed-{code}",
            f"{name} 各年未通过规则数 — failed rules per year, {dist['name_en']}",
            "; ".join(f"{y}: {'no data' if v is None else int(v)} failed, {svg.symbol(a)}" for y, v, a in failed_pts),
            failed_pts,
            vmax_failed,
        )
        spark_r = svg.sparkline(
            f"spark-ras-{code}",
            f"{name} RA-S 达标学段占比 — share of sections passing RA-S, {dist['name_en']}",
            "; ".join(f"{y}: {'no data' if v is None else f'{v:.0%}'}" for y, v, _ in ras_pts),
            ras_pts,
            1.0,
            fmt="{:.0%}",
        )
        first_f = next((v for _, v, _ in failed_pts if v is not None), None)
        last_f = next((v for _, v, _ in reversed(failed_pts) if v is not None), None)
        last_r = next((v for _, v, _ in reversed(ras_pts) if v is not None), None)
        dots = [
            join(
                mark(verdicts[y], f"{y}: {yes_no(verdicts[y], '达标 attained', '未达标 not attained')}"),
                el("span", str(y)[2:], class_="spark-val"),
                " ",
            )
            for y in years
        ]
        acc = d.accountability.get((code, latest)) if latest is not None else None
        reasons = list(acc.get("behind_reasons") or []) if acc else []
        on_track = acc.get("on_track") if acc else None
        reason_cell = [
            mark(on_track, yes_no(on_track, "如期 on track", "落后 behind")),
            " ",
            yes_no(on_track, "如期 on track", "落后 behind", "待定 undecided"),
        ]
        if reasons:
            ids = sort_ids(rid for rid, _ in map(split_item, reasons) if rid)
            reason_cell += [
                " ",
                join(*[join(el("span", i, class_="id"), " ") for i in ids]),
                el("a", "详情 details", href=f"#district-{code}", class_="details"),
            ]
        trs.append(
            el(
                "tr",
                ctx.district_cell(code),
                el(
                    "td",
                    spark_f,
                    el(
                        "span",
                        f"{first_f:.0f} → {last_f:.0f}" if first_f is not None and last_f is not None else "",
                        class_="spark-val",
                    ),
                    class_="spark-cell",
                ),
                el(
                    "td",
                    spark_r,
                    el("span", f"{last_r:.0%}" if last_r is not None else "", class_="spark-val"),
                    class_="spark-cell",
                ),
                el("td", dots, class_="years-dots"),
                el("td", reason_cell, class_="reasons"),
            )
        )
    table = el(
        "table",
        el("caption", "区县趋势 District trends", class_="sr-only"),
        el("thead", head),
        el("tbody", trs),
        class_="trends",
        id="district-trends",
    )
    note = el(
        "p",
        f"折线：{years[0]}–{years[-1]} 年未通过规则数与通过 RA-S 的学段占比；圆点颜色为当年是否达标"
        "（空心为待定）。 Lines: failed rules and the share of sections passing RA-S per year; each "
        "dot is coloured by the year's attainment (hollow: undecided).",
        class_="note",
    )
    return el("section", *body, note, el("div", table, class_="table-wrap"), id="trends")
