"""The district × year attainment matrix, with the names of every rule it lists printed below it."""

from __future__ import annotations

from typing import Any

from junheng.report import svg
from junheng.report.data import sort_ids
from junheng.report.markup import Markup, el, join
from junheng.report.reasons import explain_item
from junheng.report.sections.common import VERDICT, Ctx, bi, mark, yes_no

__all__ = ["matrix"]

MAX_IDS_IN_CELL = 8


def matrix_cell(ctx: Ctx, code: str, year: int, declared: int | None) -> Markup:
    r = ctx.d.attainment.get((code, year))
    classes = ["cell"] + (["declared"] if declared == year else [])
    if r is None:
        return el("td", "—", class_=" ".join(classes + ["none"]), title=f"{year}: 无数据 no data")
    attained = r.get("attained")
    failed, undecided = sort_ids(r.get("failed_items")), sort_ids(r.get("undecided_items"))
    cls, sym = VERDICT[attained]
    status = {True: "达标 attained", False: "未达标 not attained", None: "待定 undecided"}[attained]
    dims = [
        ("资源配置 resources", r.get("resource_passed")),
        ("政府保障 government", r.get("government_passed")),
        ("教育质量 quality", r.get("quality_passed")),
        ("社会认可 recognition", r.get("social_passed")),
        ("前提 prerequisite", r.get("prerequisite_passed")),
    ]
    lines = [
        f"{ctx.short(code)} {year}: {status}",
        " · ".join(f"{n} {svg.symbol(v)}" for n, v in dims)
        + f" · 否决 veto {yes_no(r.get('vetoed'), 'raised', 'none', '?')}",
    ]
    if failed:
        lines.append(f"未通过 Failed ({len(failed)}):")
        lines += [f"  {ctx.rule_label(i)}" for i in failed]
    if undecided:
        lines.append(f"待定 Undecided ({len(undecided)}):")
        lines += [f"  {ctx.rule_label(i)}" for i in undecided]
    if declared == year:
        lines.append(f"创建年度 Declared creation year {declared}")
    shown = failed[:MAX_IDS_IN_CELL]
    chips = [el("span", i, class_="id") for i in shown]
    if len(failed) > len(shown):
        chips.append(el("span", f"+{len(failed) - len(shown)}", class_="more"))
    room = max(0, MAX_IDS_IN_CELL - len(shown))
    chips += [el("span", i, class_="id und") for i in undecided[:room]]
    if len(undecided) > room:
        chips.append(el("span", f"?+{len(undecided) - room}", class_="more"))
    count = f"{len(failed)}" if failed else (f"?{len(undecided)}" if undecided and attained is None else None)
    return el(
        "td",
        el("span", sym, class_=f"mark {cls}", aria_hidden="true"),
        el("span", status, class_="sr-only"),
        el("span", count, class_="count") if count else None,
        el("span", join(*[join(c, " ") for c in chips]), class_="ids") if chips else None,
        class_=" ".join(classes + [cls]),
        title="\n".join(lines),
        data_district=code,
        data_year=year,
        data_failed=" ".join(failed) or None,
    )


def matrix(ctx: Ctx) -> Markup:
    d = ctx.d
    body: list[Any] = [el("h2", bi("区县达标矩阵", "District attainment matrix"))]
    if not d.attainment:
        return el(
            "section",
            *body,
            el("p", "尚无数据 No data yet: mart_district_attainment is empty.", class_="none"),
            id="matrix",
        )
    years = sorted({y for _, y in d.attainment})
    latest = d.latest_year
    head = el(
        "tr",
        el("th", bi("区县", "District"), scope="col"),
        el("th", bi("创建年度", "Declared"), scope="col"),
        [el("th", y, scope="col", class_="year") for y in years],
        el("th", bi(f"{latest} 如期", "On track"), scope="col"),
    )
    trs = []
    for dist in d.districts:
        code = dist["code"]
        if not any((code, y) in d.attainment for y in years):
            continue
        declared = ctx.declared_year(code)
        acc = d.accountability.get((code, latest)) if latest is not None else None
        on_track = acc.get("on_track") if acc else None
        reasons = list(acc.get("behind_reasons") or []) if acc else []
        tip = (
            "\n".join(
                [f"{ctx.short(code)} {latest}: {yes_no(on_track, '如期 on track', '落后 behind')}"]
                + [
                    f"  {rid or ''} {'；'.join(r.zh for r in rs)}"
                    for rid, rs in (explain_item(x, ctx.d.book) for x in reasons)
                ]
            )
            if acc
            else "无数据 no data"
        )
        trs.append(
            el(
                "tr",
                ctx.district_cell(code),
                el("td", declared if declared is not None else "?", class_="num"),
                [matrix_cell(ctx, code, y, declared) for y in years],
                el(
                    "td",
                    mark(on_track, tip),
                    el("span", len(reasons), class_="count") if reasons else None,
                    title=tip,
                    class_="on-track",
                ),
            )
        )
    legend = el(
        "p",
        mark(True, "达标 attained"),
        " 达标 attained　",
        mark(False, "未达标 not attained"),
        " 未达标 not attained (failed rule ids)　",
        mark(None, "待定 undecided"),
        " 待定 undecided (dashed: rules still undecided)",
        el("span", class_="swatch declared"),
        "创建年度 declared creation year. ",
        "规则名称见表下；悬停查看各维度 Rule names are listed below the table; hover a cell for the dimensions.",
        class_="legend",
    )
    toggle = [
        el("input", type="checkbox", id="ids-toggle", checked=True),
        el("label", "显示规则编号 Show rule ids", for_="ids-toggle", class_="toggle"),
    ]
    table = el(
        "table",
        el("caption", "区县 × 年度 达标情况 District × year attainment", class_="sr-only"),
        el("thead", head),
        el("tbody", trs),
        class_="matrix",
        id="attainment-matrix",
    )
    return el("section", *body, legend, *toggle, el("div", table, class_="table-wrap"), rule_names(ctx), id="matrix")


def rule_names(ctx: Ctx) -> Markup:
    """Every rule id the matrix shows, with its names: printed, so the ids read without hovering."""
    ids = sort_ids(
        i
        for r in ctx.d.attainment.values()
        for i in [*(r.get("failed_items") or []), *(r.get("undecided_items") or [])]
    )
    if not ids:
        return join()
    items = [el("li", ctx.rule_named(i)) for i in ids]
    return el(
        "div",
        el("h3", bi("矩阵中的规则", "Rules in the matrix")),
        el("ul", items, class_="rule-names"),
        class_="rule-legend",
        id="matrix-rules",
    )
