"""`junheng whatif EVENTS.jsonl --warehouse DIR [--json]`: what these events would change, judged on
a copy of the warehouse's district states (streams/whatif.py), nothing landed, saved or published.

A bureau asks "what if we build here, hire there?" before anyone reports it: the hypothetical events
go through the same contract check and rules engine as a run, and the command prints the sections,
district verdicts, accountability and city progress that would change. The warehouse is only read
(its state files, or its landed events when it has none: a Kafka warehouse); no lock is taken and no
file is written, so it runs beside a worker or a build.

Exit codes: 0 the events were judged (whatever they change); 1 some were dead-lettered (listed);
2 a user error (a missing file, a folder that is no warehouse), one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from junheng.errors import UserError
from junheng.layout import WarehouseLayout
from junheng.terminal import json_line, plain

__all__ = ["add_arguments", "cmd_whatif", "describe"]

_MARK = {True: "✓", False: "✗", None: "-"}


class NoWarehouse(UserError):
    """The folder holds no district states and no landed events: nothing to compare with."""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from junheng.settings import default_warehouse

    parser.add_argument(
        "files",
        nargs="+",
        metavar="EVENTS.jsonl",
        help="hypothetical events, JSONL as for junheng run ('-' reads standard input)",
    )
    parser.add_argument(
        "--warehouse",
        default=str(default_warehouse()),
        help="the warehouse whose current states the events are judged on "
        "(default: $JUNHENG_WAREHOUSE or ./warehouse); it is only read",
    )
    parser.add_argument("--as-of", help="judge deadlines on this date, YYYY-MM-DD (default: today)")
    parser.add_argument("--json", action="store_true", help="print one JSON object: counts, dead_letters, changes")
    return parser


def _check(files: Sequence[str], warehouse: Path, as_of: str | None) -> dt.date:
    from ingestion.lines import check_inputs

    problem = check_inputs(files)
    if problem:
        raise UserError(problem)
    layout = WarehouseLayout(warehouse)
    has_states = layout.state.is_dir() and any(layout.state.glob("*.json"))
    events = layout.landing_table("events")
    has_events = events.is_dir() and any(events.glob("part-*.parquet"))
    if not (has_states or has_events):
        raise NoWarehouse(
            f"{warehouse} holds no district states and no landed events: nothing to judge the "
            f"events against (land the real data first: junheng run FILE --warehouse {warehouse})"
        )
    try:
        return dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise UserError(f"--as-of {as_of!r} is not a date: expected YYYY-MM-DD, e.g. 2026-06-30") from None


def cmd_whatif(args: argparse.Namespace) -> int:
    from streams.whatif import what_if

    warehouse = Path(args.warehouse)
    as_of = _check(args.files, warehouse, args.as_of)
    result = what_if(warehouse, args.files, as_of=as_of)
    if args.json:
        print(json_line(result.as_dict()))
    else:
        print("\n".join(describe(result.as_dict())))
    return 1 if result.counts.get("dead_lettered") else 0


def _items(items: Sequence[str] | None) -> str:
    return ", ".join(items) if items else "-"


def describe(doc: dict[str, Any]) -> list[str]:
    """The what-if result as lines for a person (every value from data made inert)."""
    c = doc["counts"]
    out = [
        f"What if: read {c['read']:,} = applied {c['applied']:,} + duplicate {c['duplicate']:,} + stale "
        f"{c['stale']:,} + dead-lettered {c['dead_lettered']:,} (judged on a copy: nothing was landed, "
        f"saved or published)"
    ]
    for d in doc["dead_letters"]:
        out.append(f"  rejected {plain(d['origin'])}: {plain(d['reason'])}")
    ch = doc["changes"]
    if not any(ch.values()):
        out.append("Nothing would change.")
        return out
    if ch["sections"]:
        out.append(f"Sections ({len(ch['sections'])}):")
        for s in ch["sections"]:
            before, after = s["passed"]
            reason = f" ({plain(s['reason'])})" if s.get("reason") and after is False else ""
            out.append(
                f"  {plain(s['district_code'])} {plain(s['school_id'])} {plain(s['section'])} {s['year']}: "
                f"RA-S {_MARK[before]} → {_MARK[after]}{reason}"
            )
    if ch["districts"]:
        out.append(f"District verdicts ({len(ch['districts'])}):")
        for d in ch["districts"]:
            (before, after), (fb, fa) = d["attained"], d["failed_items"]
            out.append(
                f"  {plain(d['district_code'])} {d['year']}: attained {_MARK[before]} → {_MARK[after]}; "
                f"failing {plain(_items(fb))} → {plain(_items(fa))}"
            )
    if ch["accountability"]:
        out.append(f"Accountability ({len(ch['accountability'])}):")
        for a in ch["accountability"]:
            before, after = a["on_track"]
            why = f" ({plain('; '.join(a['behind_reasons']))})" if a["behind_reasons"] else ""
            out.append(f"  {plain(a['district_code'])} {a['year']}: on track {_MARK[before]} → {_MARK[after]}{why}")
    if ch["city"]:
        out.append(f"City progress ({len(ch['city'])}):")
        for row in ch["city"]:
            b, a = row["before"] or {}, row["after"] or {}
            out.append(
                f"  {row['year']}: attained {b.get('districts_attained', '-')}/{b.get('districts_total', '-')} → "
                f"{a.get('districts_attained', '-')}/{a.get('districts_total', '-')}; on track "
                f"{_MARK[b.get('on_track')]} → {_MARK[a.get('on_track')]}"
            )
    return out
