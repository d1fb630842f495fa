"""What `junheng run` and `junheng demo` print after landing: the counts, the dead letters by
reason, the district attainment table and the city against its plan (rich tables; every value from
data goes through :mod:`junheng.terminal` so nothing in it acts on the terminal)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from junheng.terminal import plain


def print_report(runner: Any, summary: Any, as_of: dt.date) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from junheng.compiled_engine import engine_kind
    from junheng.terminal import markup
    from rules.summary import report_rows

    console = Console()
    counts = summary.as_dict()
    console.print(
        f"\n[bold]Events[/bold]: read {counts['read']:,} = applied {counts['applied']:,} + duplicate "
        f"{counts['duplicate']:,} + stale {counts['stale']:,} + dead-lettered {counts['dead_lettered']:,}"
        f"  ({'balanced' if summary.balanced() else '[red]NOT BALANCED[/red]'}, {counts['elapsed_s']:.1f} s, "
        f"rules engine: {engine_kind()})"
    )
    if counts["dead_letter_reasons"]:
        again = counts.get("dead_lettered_again", 0)
        console.print(
            "Dead letters by reason: "
            + ", ".join(f"{markup(k)} {v}" for k, v in sorted(counts["dead_letter_reasons"].items()))
            + (f" ({again:,} landed by an earlier run, not landed again)" if again else "")
            + "; see them with junheng dlq list"
        )
    names = {c: d.name_zh for c, d in runner.districts.items()}
    # one state at a time: a national warehouse's states do not fit in memory together
    years, district_rows, city_rows = report_rows(runner.iter_states, runner.engine.catalogue, names, as_of)
    if not years:
        return
    table = Table(title=f"District attainment (judged as of {as_of})", show_lines=False)
    table.add_column("district")
    table.add_column("declared")
    for y in years:
        table.add_column(str(y), justify="center")
    table.add_column(f"failing in {years[-1]}")
    table.add_column("on track (why not)", min_width=26)
    mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]?[/yellow]"}
    for row in district_rows:  # names and codes are data: Text, never markup
        failing = ", ".join(row["failed_items"][:6]) + (" …" if len(row["failed_items"]) > 6 else "")
        table.add_row(
            Text(plain(f"{row['district_code']} {row['name']}")),
            str(row["declared_creation_year"] or "?"),
            *[mark[row["attained"][y]] for y in years],
            Text(plain(failing or "-")),
            Text.from_markup(mark[row["on_track"]]) + Text(plain(f" {row['why_not_on_track']}".rstrip())),
        )
    console.print(table)
    c1 = next(iter(runner.engine.catalogue.of_kind("city_attainment_share")), None)
    steps = ", ".join(f"{pct:g}% by {year}" for year, pct in sorted(c1.params["milestones"].items())) if c1 else ""
    city = Table(title=f"The city against its plan (C1: {steps})")
    for col in ("year", "attained", "share", "plan wants", "on track", "C4 projects/yr", "C10 groups"):
        city.add_column(col, justify="right")
    for row in city_rows:
        t = row["targets"]
        city.add_row(
            str(row["year"]),
            f"{row['districts_attained']}/{row['districts_total']}",
            f"{(row['attained_share'] or 0):.0%}",
            f"{row['target_share']:.0%}",
            mark[row["on_track"]],
            f"{t['C4']['value']:.1f}" if "C4" in t and t["C4"]["value"] is not None else "-",
            f"{t['C10']['value']:.0f}" if "C10" in t and t["C10"]["value"] is not None else "-",
        )
    console.print(city)
    console.print(f"Landing files: {markup(summary.landing)}")
