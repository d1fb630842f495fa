"""`junheng`: the platform's command line.

junheng demo                       generate the sample city and run everything embedded
junheng run FILES... --warehouse DIR [--json] [--strict]   (FILE '-': standard input)
junheng generate --out FILE        write the synthetic city as JSONL
junheng load-report FILE --state S --out EVENTS.jsonl   events for what a report changed
junheng whatif EVENTS.jsonl --warehouse DIR [--json]   what hypothetical events would change
junheng produce [--create-topics] FILES...   send event files to Kafka
junheng worker --warehouse DIR     the Faust worker: validate, apply, land from Kafka
junheng build [--warehouse DIR]    dbt build + GX checkpoint, then publish the marts (+ Parquet)
junheng serve [--warehouse DIR]    beside the Kafka worker: build and publish whenever it landed more
junheng alerts [--warehouse DIR]   evaluate alerts on the marts; Alertmanager, webhook, Kafka
junheng report [--warehouse DIR] [--pdf [FILE]]   the static HTML report (and its PDF) from the built marts
junheng status [--warehouse DIR] [--json]   worker, lag, last build, open alerts, version, engine
junheng dlq list|show|replay|discard   the dead letters: see them, replay them after a fix, discard them
junheng kafka start|stop|status    the local single-node Kafka (needs Java and Maven)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from junheng import settings
from junheng.errors import EXIT_ALERTS_UNDELIVERED, EXIT_DEAD_LETTERED, EXIT_FAILED, EXIT_INTERNAL, EXIT_USER, UserError
from junheng.layout import WarehouseLayout
from junheng.run_report import print_report
from junheng.terminal import plain
from junheng.warehouse_lock import WarehouseUnusable, hold_warehouse

WAIT_HELP = "wait this long for another command on the warehouse to finish (default: refuse at once)"


def _as_of(value: dt.date | str | None) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value) if value else dt.date.today()


def iso_date(text: str) -> dt.date:
    """An --as-of value, checked while the options are parsed: before anything is read or landed."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: expected YYYY-MM-DD, e.g. 2026-06-30") from None


AS_OF_HELP = "judge deadlines on this date, YYYY-MM-DD (default: today)"


def run_embedded(paths: Sequence[str], warehouse: Path, quiet: bool = False, gx: bool = True) -> tuple[Any, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ingestion.jurisdiction import Jurisdiction, record
    from ingestion.lines import count_lines
    from rules import load_catalogue
    from streams.embedded import EmbeddedRunner

    catalogue = load_catalogue(settings.catalogue_name())
    # the warehouse's jurisdiction, recorded before anything is judged (a changed one is said)
    changed = record(
        WarehouseLayout(warehouse), Jurisdiction.current(settings.catalogue_name(), loaded=catalogue), by="junheng run"
    )
    if changed:
        print(f"warehouse {warehouse}: {changed}", file=sys.stderr)
    runner = EmbeddedRunner(warehouse, catalogue=catalogue, gx=gx)
    if quiet:
        summary = runner.run(paths)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as progress:
            task = progress.add_task("validate, apply, land", total=count_lines(paths))
            summary = runner.run(paths, progress=lambda n: progress.advance(task, n))
            if progress.tasks[0].total is None:  # read from a pipe: the total is known now
                progress.update(task, total=progress.tasks[0].completed)
    if runner.recovered:  # a previous run on this warehouse was killed: say what was done about it
        print(f"warehouse {warehouse}: {runner.recovered}", file=sys.stderr)
    return runner, summary


def finish(warehouse: Path, as_of: dt.date, quiet: bool = False) -> dict[str, Any]:
    """After events are landed: the build (marts, alerts and mart_alerts from them, checkpoint,
    export, delivery where JUNHENG_ALERTMANAGER_URL / JUNHENG_ALERT_WEBHOOK_URL point, report).
    ``alerts_ok`` is false when an alert source could not be read or a delivery failed."""
    from junheng.build import BuildError, build

    out: dict[str, Any] = {"marts": str(WarehouseLayout(warehouse).database)}
    try:
        result = build(warehouse, as_of=as_of, echo=None)
    except BuildError as exc:
        out.update(build_ok=False, build_error=f"{exc.stage}: {exc}")
        if not quiet:
            print(f"junheng build failed at {exc.stage}: {plain(exc, lines=True)}", file=sys.stderr)
        return out
    out.update(build_ok=True, build=result.to_dict(), published_version=result.version)
    run = result.alerts
    out["alerts"] = {"firing": len(run.firing), "fired": len(run.fired), "resolved": len(run.resolved)}
    out["alerts_ok"] = run.ok
    out["deliveries"] = [d.as_dict() for d in run.deliveries]
    out["report"] = result.report
    if not quiet:
        print(result.summary())
        for d in run.deliveries:  # the target is redacted (junheng/alerting/urls.py); attempts as made
            if not d.ok:
                print(
                    f"alert delivery to {d.channel} ({plain(d.target)}) FAILED after {d.attempts} "
                    f"attempt{'s' if d.attempts != 1 else ''}: {plain(d.error)}; kept for the next run",
                    file=sys.stderr,
                )
        for error in run.errors:
            print(f"alerts: {plain(error)}", file=sys.stderr)
    return out


def exit_code(summary: Any, done: dict[str, Any], strict: bool = False) -> int:
    """`run`'s and `demo`'s exit code (README, "Exit codes"): 1 the counts do not balance or the
    build failed; 4 alert sources or deliveries failed; 3 with --strict, lines were dead-lettered."""
    if not summary.balanced() or not done["build_ok"]:
        return EXIT_FAILED
    if not done.get("alerts_ok", True):
        return EXIT_ALERTS_UNDELIVERED
    if strict and summary.counts.dead_lettered:
        return EXIT_DEAD_LETTERED
    return 0


class NotADemo(UserError):
    """`junheng demo` was pointed at a folder it did not create."""


def cmd_demo(args: argparse.Namespace) -> int:
    layout = WarehouseLayout(args.warehouse)
    if layout.root.exists() and not layout.root.is_dir():
        raise WarehouseUnusable(layout.root, NotADirectoryError(f"{layout.root} is a file"))
    if not (layout.is_empty() or layout.is_demo()):  # checked again under the lock
        raise NotADemo(_not_a_demo(layout))
    with hold_warehouse(args.warehouse, args.wait):
        return _demo(args)


def _not_a_demo(layout: WarehouseLayout) -> str:
    return (
        f"{layout.root} holds a warehouse that junheng demo did not create; the demo resets only its "
        f"own folders: give --warehouse a new or empty folder (or the one an earlier demo made)"
    )


def _demo(args: argparse.Namespace) -> int:
    from ingestion.synthetic import generate_city

    warehouse = Path(args.warehouse)
    layout = WarehouseLayout(warehouse)
    if layout.is_demo():
        layout.reset_demo()  # everything an earlier demo made: landing, states, marts, alerts, …
    elif not layout.is_empty():
        raise NotADemo(_not_a_demo(layout))
    demo_dir = layout.demo
    demo_dir.mkdir(parents=True, exist_ok=True)
    layout.demo_mark.write_text("made by junheng demo: `junheng demo` may reset this folder\n", encoding="utf-8")
    events = demo_dir / "events.jsonl"
    city = generate_city(
        seed=args.seed, schools=args.schools, bad_fraction=0.01, duplicate_fraction=0.01, stale_fraction=0.01
    )
    city.write_jsonl(events)
    print(
        f"Generated {len(city.lines):,} events for {city.manifest['schools']} schools in "
        f"{city.manifest['districts']} districts → {events}"
    )
    runner, summary = run_embedded([str(events)], warehouse, gx=not args.no_gx)
    print_report(runner, summary, _as_of(args.as_of))
    if args.no_build:
        return 0 if summary.balanced() else 1
    print("\nBuilding the marts (dbt), checking them (GX), evaluating alerts, writing the report …")
    done = finish(warehouse, _as_of(args.as_of))
    return exit_code(summary, done)


def cmd_run(args: argparse.Namespace) -> int:
    from ingestion.lines import check_inputs

    problem = check_inputs(args.files)
    if problem:
        print(f"junheng run: {problem}", file=sys.stderr)
        return 2
    with hold_warehouse(args.warehouse, args.wait):  # one command at a time, from before anything is read
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    runner, summary = run_embedded(args.files, Path(args.warehouse), quiet=args.json, gx=not args.no_gx)
    if not args.json:
        print_report(runner, summary, _as_of(args.as_of))
    done: dict[str, Any] = {"build_ok": True}
    if not args.no_build:
        done = finish(Path(args.warehouse), _as_of(args.as_of), quiet=args.json)
    from junheng.compiled_engine import engine_kind
    from junheng.terminal import json_line

    code = exit_code(summary, done, args.strict)
    if args.json:
        print(json_line(summary.as_dict() | done | {"engine": engine_kind(), "exit_code": code}))
    elif code == EXIT_DEAD_LETTERED:
        print(
            f"junheng run: {summary.counts.dead_lettered:,} line(s) dead-lettered (--strict): see them with "
            f"junheng dlq list --warehouse {plain(args.warehouse)}",
            file=sys.stderr,
        )
    return code


def cmd_generate(args: argparse.Namespace) -> int:
    from ingestion.synthetic import generate_city

    folder = Path(args.out).resolve().parent
    if not folder.is_dir():
        raise UserError(f"cannot write {args.out}: the folder {folder} does not exist")

    city = generate_city(seed=args.seed, schools=args.schools, bad_fraction=args.bad_fraction)
    city.write_jsonl(args.out)
    print(json.dumps(city.manifest, ensure_ascii=False))
    return 0


def cmd_load_report(args: argparse.Namespace) -> int:
    from ingestion.reports import ReportError, load

    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        raise UserError(f"cannot write {args.out}: the folder {out.resolve().parent} does not exist")
    try:
        result = load(
            args.report, args.state, warehouse=args.warehouse, encoding=args.encoding, skip_bad_rows=args.skip_bad_rows
        )
    except ReportError as exc:  # every bad file or cell on its own line; nothing emitted
        for line in exc.problems:
            print(f"junheng load-report: {plain(line)}", file=sys.stderr)
        print(
            f"junheng load-report: nothing emitted ({len(exc.problems)} problem(s)); fix the report, or pass "
            f"--skip-bad-rows to load the good rows",
            file=sys.stderr,
        )
        return exc.exit_code
    for line in result.skipped:
        print(f"junheng load-report: skipped: {plain(line)}", file=sys.stderr)
    with open(out, "a", encoding="utf-8") as fh:
        for e in result.events:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    print(
        f"{len(result.events)} new or changed facts from {args.report} appended to {args.out} "
        f"({result.unchanged} unchanged, {len(result.skipped)} rows skipped)"
    )
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from ingestion.producer import main as produce_main

    return int(produce_main(args.args) or 0)


def cmd_worker(args: argparse.Namespace) -> int:
    from junheng.worker import main as worker_main

    return int(worker_main(args.args) or 0)


def cmd_report(args: argparse.Namespace) -> int:
    from junheng.report import write_report

    if args.pdf:
        from junheng.report.pdf import find_chromium

        find_chromium()  # before anything is written: a missing browser is one line, exit 2
    with hold_warehouse(args.warehouse, args.wait, create=False):
        path = write_report(Path(args.warehouse), Path(args.out) if args.out else None, _as_of(args.as_of))
    print(f"Report written to {path}")
    if args.pdf:
        from junheng.report.pdf import html_to_pdf

        pdf = html_to_pdf(path, Path(args.pdf) if isinstance(args.pdf, str) else path.with_suffix(".pdf"))
        print(f"PDF written to {pdf}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from junheng.alerting.cli import exit_code, print_run, run_from_args
    from junheng.terminal import json_line

    with hold_warehouse(args.warehouse, args.wait, create=False):
        run = run_from_args(args)
    if args.json:
        print(json_line(run.as_dict()))
    else:
        print_run(run)
    return exit_code(run)


def cmd_kafka(args: argparse.Namespace) -> int:
    script = settings.PROJECT_ROOT / "infra" / "kafka" / "kafka.sh"
    return subprocess.call(["bash", str(script), args.action])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="junheng", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"junheng {version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="generate the sample city and run everything embedded")
    demo.add_argument(
        "--warehouse",
        default=str(settings.default_warehouse()),
        help="a new folder, or one an earlier demo made (default: $JUNHENG_WAREHOUSE or ./warehouse)",
    )
    demo.add_argument("--schools", type=int, default=1000, help="schools in the sample city (default 1000)")
    demo.add_argument("--seed", type=int, default=2021, help="seed of the sample city (the same seed, the same city)")
    demo.add_argument("--as-of", type=iso_date, help=AS_OF_HELP)
    demo.add_argument("--no-gx", action="store_true", help="skip the Great Expectations micro-batch suites")
    demo.add_argument("--no-build", action="store_true", help="stop after landing: no marts, alerts or report")
    demo.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="validate, apply and land event files (embedded, no Kafka)")
    run.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="JSONL event files; '-' reads standard input (pipes and FIFOs are read once)",
    )
    run.add_argument(
        "--warehouse",
        default=str(settings.default_warehouse()),
        help="the warehouse folder (default: $JUNHENG_WAREHOUSE or ./warehouse)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object with the counts")
    run.add_argument("--as-of", type=iso_date, help=AS_OF_HELP)
    run.add_argument("--no-gx", action="store_true", help="skip the Great Expectations micro-batch suites")
    run.add_argument("--no-build", action="store_true", help="stop after landing: no marts, alerts or report")
    run.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    run.add_argument(
        "--strict",
        action="store_true",
        help=f"exit {EXIT_DEAD_LETTERED} when the run completed but lines were dead-lettered",
    )
    run.set_defaults(func=cmd_run)
    gen = sub.add_parser("generate", help="write the synthetic city as JSONL")
    gen.add_argument("--out", required=True, help="the JSONL file to write")
    gen.add_argument("--schools", type=int, default=1000, help="schools in the city (default 1000)")
    gen.add_argument("--seed", type=int, default=2021, help="the same seed gives the same city")
    gen.add_argument(
        "--bad-fraction",
        type=float,
        default=0.0,
        help="share of lines made invalid on purpose, to exercise the dead letters (default 0)",
    )
    gen.set_defaults(func=cmd_generate)
    rep = sub.add_parser("load-report", help="turn a CSV/XLSX statistical report into events for what changed")
    rep.add_argument("report", help="the statistical report, .csv or .xlsx (docs/reports.md)")
    rep.add_argument(
        "--warehouse",
        help="the warehouse the events are for: a fact is emitted unless it is "
        "applied there as it is, with a seq above every known version",
    )
    rep.add_argument("--state", help="JSON file remembering what earlier loads emitted (needed without --warehouse)")
    rep.add_argument("--out", required=True, help="JSONL file the events are appended to")
    rep.add_argument("--encoding", help="the CSV's encoding (default: detected; e.g. gb18030, utf-8)")
    rep.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="load the good rows of a report with bad cells (each skipped row is listed)",
    )
    rep.set_defaults(func=cmd_load_report)
    from junheng.whatif import add_arguments as add_whatif_arguments
    from junheng.whatif import cmd_whatif

    whatif = add_whatif_arguments(
        sub.add_parser(
            "whatif", help="judge hypothetical events on a copy of the warehouse's states: what would change"
        )
    )
    whatif.set_defaults(func=cmd_whatif)
    produce = sub.add_parser("produce", add_help=False, help="send event files to Kafka (see `junheng produce --help`)")
    produce.add_argument("args", nargs=argparse.REMAINDER)
    produce.set_defaults(func=cmd_produce)
    worker = sub.add_parser(
        "worker", add_help=False, help="run the Faust worker on Kafka (see `junheng worker --help`)"
    )
    worker.add_argument("args", nargs=argparse.REMAINDER)
    worker.set_defaults(func=cmd_worker)
    from junheng.build import add_arguments as add_build_arguments
    from junheng.build import cmd_build

    build = add_build_arguments(
        sub.add_parser("build", help="dbt build, marts checkpoint (GX), publish the marts and their Parquet export")
    )
    build.set_defaults(func=cmd_build)
    from junheng.serve import add_arguments as add_serve_arguments
    from junheng.serve import cmd_serve

    serve = add_serve_arguments(
        sub.add_parser(
            "serve",
            help="keep the published marts fresh: build whenever the landing advanced (beside the Kafka worker)",
        )
    )
    serve.set_defaults(func=cmd_serve)
    from junheng.status import add_arguments as add_status_arguments
    from junheng.status import cmd_status

    status_help = "the worker, its lag, the last build, open alerts, catalogue, version and engine"
    status = add_status_arguments(sub.add_parser("status", help=status_help, description=status_help))
    status.set_defaults(func=cmd_status)
    report = sub.add_parser("report", help="write the static HTML report from the built marts")
    report.add_argument(
        "--warehouse",
        default=str(settings.default_warehouse()),
        help="the warehouse whose marts are reported (default: $JUNHENG_WAREHOUSE or ./warehouse)",
    )
    report.add_argument("--out", help="the HTML file to write (default: <warehouse>/report/index.html)")
    report.add_argument("--as-of", type=iso_date, help=AS_OF_HELP)
    report.add_argument(
        "--pdf",
        nargs="?",
        const=True,
        default=None,
        metavar="FILE",
        help="also print it to PDF with headless Chromium (Debian's 'chromium'); default FILE: "
        "the HTML file's name with .pdf",
    )
    report.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    report.set_defaults(func=cmd_report)
    from junheng.alerting.cli import add_arguments as add_alert_arguments

    alerts = add_alert_arguments(sub.add_parser("alerts", help="evaluate alerts on the marts and deliver them"))
    alerts.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=WAIT_HELP)
    alerts.set_defaults(func=cmd_alerts)
    from junheng.dlq import add_parser as add_dlq_parser

    add_dlq_parser(sub)
    kafka = sub.add_parser("kafka", help="start, stop or check the local Kafka broker")
    kafka.add_argument(
        "action", choices=["start", "stop", "status", "restart", "reset"], help="reset also deletes the broker's data"
    )
    kafka.set_defaults(func=cmd_kafka)
    return parser


PASS_THROUGH = {"produce": cmd_produce, "worker": cmd_worker}


def main(argv: Sequence[str] | None = None) -> int:
    from junheng.compiled_engine import install as install_engine

    try:
        install_engine()  # the mypyc-compiled rules engine when a fresh build exists; before rules is imported
    except ValueError as exc:  # a JUNHENG_* variable's value: junheng/settings.py names it
        print(f"junheng: {plain(exc)}", file=sys.stderr)
        return EXIT_USER
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:  # these parse their own options, --help included
        return PASS_THROUGH[argv[0]](argparse.Namespace(args=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:  # the user can fix it: one line, what and what to do
        print(f"junheng {args.command}: {plain(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line (the traceback with --debug)
        if args.debug:
            raise
        print(
            f"junheng {args.command}: unexpected error: {type(exc).__name__}: {plain(exc)} "
            f"(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def version() -> str:
    """The installed package's version (and the catalogue it judges with by default)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("junheng")
    except PackageNotFoundError:
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
