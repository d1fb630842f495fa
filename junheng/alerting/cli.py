"""`junheng alerts` (and `python -m junheng.alerting`): evaluate the warehouse, deliver, report.

    junheng alerts [--warehouse DIR] [--as-of DATE] [--alertmanager-url URL] [--webhook-url URL]
                   [--kafka] [--years 2024,2025] [--no-stream] [--no-marts] [--json]

Exit codes: 0 all good; 1 a source could not be read or the history could not be landed (alerts of
that source kept as they were); 2 a delivery failed after its retries (queued, retried next run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from junheng.settings import AlertSettings

if TYPE_CHECKING:
    from junheng.alerting.run import AlertRun


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from junheng.settings import default_warehouse

    parser.add_argument(
        "--warehouse",
        default=str(default_warehouse()),
        help="the folder holding junheng.duckdb and landing/ (default: $JUNHENG_WAREHOUSE)",
    )
    parser.add_argument(
        "--as-of",
        help="judge on this date (default: today); the marts' deadlines are judged by dbt on its own --vars as_of",
    )
    parser.add_argument(
        "--alertmanager-url",
        default=AlertSettings.from_env().alertmanager_url,
        help="Alertmanager base URL, e.g. http://127.0.0.1:9093 (default: $JUNHENG_ALERTMANAGER_URL)",
    )
    parser.add_argument(
        "--webhook-url",
        default=AlertSettings.from_env().webhook_url,
        help="POST state changes as JSON to this URL (default: $JUNHENG_ALERT_WEBHOOK_URL)",
    )
    parser.add_argument("--kafka", action="store_true", help="send state changes to the <prefix>.alerts topic")
    parser.add_argument("--years", help="comma-separated statistical years to judge instead of the current one")
    parser.add_argument("--no-marts", action="store_true", help="skip the marts source")
    parser.add_argument("--no-stream", action="store_true", help="skip the landed district status rows")
    parser.add_argument("--json", action="store_true", help="print the run as one JSON object")
    return parser


def run_from_args(args: argparse.Namespace) -> AlertRun:
    from junheng.alerting.run import AlertConfig, evaluate_and_send

    years = [int(y) for y in args.years.split(",")] if args.years else None
    config = AlertConfig.from_env(years=years, marts=not args.no_marts, stream=not args.no_stream)
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    return evaluate_and_send(
        Path(args.warehouse),
        as_of=as_of,
        alertmanager_url=args.alertmanager_url,
        webhook_url=args.webhook_url,
        kafka=args.kafka,
        config=config,
    )


def exit_code(run: AlertRun) -> int:
    if run.errors:
        return 1
    return 0 if run.ok else 2


def print_run(run: AlertRun) -> None:
    """The run for a person at a terminal. Everything from data (district names in summaries,
    paths, error texts, receiver addresses) goes through :func:`junheng.terminal.plain`, so a
    control sequence in a name is shown, not executed; receiver addresses are already redacted
    (:func:`junheng.alerting.urls.redact_url`)."""
    from junheng.terminal import plain as p

    c = run.as_dict()["counts"]
    print(
        f"alerts as of {run.as_of}: {c['fired']} fired, {c['resolved']} resolved, {c['repeated']} still firing "
        f"(unchanged); {c['firing']} firing in all"
    )
    for a in run.fired:
        print(
            f"  FIRING   [{p(a.severity)}] {p(a.alertname)} {p(a.district_code or 'city')} {p(a.rule_id)} {a.year}: "
            f"{p(a.summary)}"
        )
    for a in run.resolved:
        print(f"  RESOLVED {p(a.alertname)} {p(a.district_code or 'city')} {p(a.rule_id)} {a.year}")
    for name, src in run.sources.items():
        print(f"  source {p(name)}: {'ok' if src.ok else 'UNAVAILABLE'} — {p(src.detail)}")
    for d in run.deliveries:
        print(
            f"  {p(d.channel)} {p(d.target)}: "
            + (f"sent {d.sent}" if d.ok else f"FAILED after {d.attempts} attempts: {p(d.error)}")
        )
    for ch, n in run.pending.items():
        print(f"  {p(ch)}: {n} state changes queued for the next run")
    for w in run.warnings:
        print(f"  warning: {p(w)}")
    for e in run.errors:
        print(f"  error: {p(e)}")
    if run.history_file:
        print(f"  history: {p(run.history_file)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="junheng alerts", description=__doc__.split("\n")[0]))
    args = parser.parse_args(argv)
    from junheng.terminal import json_line

    run = run_from_args(args)
    if args.json:
        print(json_line(run.as_dict()))
    else:
        print_run(run)
    return exit_code(run)


if __name__ == "__main__":
    sys.exit(main())
