"""`junheng dlq`: the dead letters of a warehouse, and what to do about them.

    junheng dlq list    [--reason CODE] [--district CODE] [--since T] [--until T] [--status S|all] [--json]
    junheng dlq show    ID [--json]
    junheng dlq replay  ID... | --reason/--district/--since/--until | --all   [--no-gx] [--kafka] [--note TEXT] [--json]
    junheng dlq discard ID... | --reason/--district/--since/--until | --all   --note TEXT [--json]

An ID may be a unique prefix of at least 6 characters. Replay and discard act on open dead letters
only. The logic is streams/dead_letters.py's; this module parses, prints and picks exit codes:
``replay`` exits 0 when every replayed record left the dead letters, 3 (:data:`EXIT_DEAD_LETTERED`)
when some were refused again; ``replay --kafka`` (a warehouse fed by the worker) 0 when every record
was produced to the events topic again, 1 when a send failed; user errors exit 2. docs/operations.md, "Dead letters", is the runbook.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from junheng import settings
from junheng.errors import EXIT_DEAD_LETTERED, UserError
from junheng.terminal import json_line, plain
from junheng.warehouse_lock import WarehouseMissing, hold_warehouse

WAIT_HELP = "wait this long for another command on the warehouse to finish (default: refuse at once)"
MIN_PREFIX = 6


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``dlq`` and its four subcommands to the ``junheng`` subparsers `sub`."""
    dlq: argparse.ArgumentParser = sub.add_parser(
        "dlq", help="list, show, replay or discard the dead letters of a warehouse"
    )
    actions = dlq.add_subparsers(
        dest="dlq_command", required=True, metavar="ACTION", help="list, show, replay or discard"
    )

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--warehouse",
            default=str(settings.default_warehouse()),
            help="the warehouse folder (default: $JUNHENG_WAREHOUSE or ./warehouse)",
        )
        p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        return p

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--reason",
            action="append",
            default=[],
            metavar="CODE",
            help="only dead letters with this reason code (repeat for several), e.g. unknown_district",
        )
        p.add_argument("--district", metavar="CODE", help="only dead letters whose record names this district")
        p.add_argument(
            "--since",
            metavar="TIME",
            help="only those landed at or after this local time, YYYY-MM-DD or YYYY-MM-DDTHH:MM",
        )
        p.add_argument("--until", metavar="TIME", help="only those landed at or before this local time (same format)")

    ls = common(actions.add_parser("list", help="list dead letters (open ones unless --status says otherwise)"))
    filters(ls)
    ls.add_argument(
        "--status",
        default="open",
        choices=["open", "replayed", "discarded", "all"],
        help="which dead letters to list (default: open)",
    )
    ls.add_argument("--limit", type=int, default=50, help="show at most this many in text (default 50; --json: all)")
    show = common(actions.add_parser("show", help="show one dead letter in full: reason, origin, bytes, history"))
    show.add_argument("id", help="the dead letter's id, or a unique prefix of at least 6 characters")
    for name, text in (
        ("replay", "run open dead letters through the pipeline again (after a fix)"),
        ("discard", "mark open dead letters as never to be applied, with a reason"),
    ):
        p = common(actions.add_parser(name, help=text))
        p.add_argument("ids", nargs="*", metavar="ID", help="dead letters by id (or unique prefix)")
        filters(p)
        p.add_argument("--all", action="store_true", help="every open dead letter (when no ID or filter is given)")
        p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=WAIT_HELP)
        if name == "replay":
            p.add_argument("--no-gx", action="store_true", help="skip the Great Expectations micro-batch suites")
            p.add_argument("--note", help="recorded with each replay, e.g. the fix it follows")
            p.add_argument(
                "--kafka",
                action="store_true",
                help="on a warehouse fed by the Kafka worker: produce them to the events topic again "
                "(JUNHENG_KAFKA_*, JUNHENG_TOPIC_PREFIX) for the worker to judge",
            )
        else:
            p.add_argument("--note", required=True, help="why they are discarded (recorded with each)")
    dlq.set_defaults(func=cmd_dlq)
    return dlq


def cmd_dlq(args: argparse.Namespace) -> int:
    warehouse = Path(args.warehouse)
    if not warehouse.is_dir():
        raise WarehouseMissing(warehouse)
    if args.dlq_command == "list":
        return _list(args, warehouse)
    if args.dlq_command == "show":
        return _show(args, warehouse)
    return _act(args, warehouse)


def _selection(args: argparse.Namespace, statuses: tuple[str, ...] | None) -> Any:
    from streams.dead_letters import Selection

    for text in (args.since, args.until):
        if text is not None and not _is_time(text):
            raise UserError(f"{text!r} is not a time: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]")
    return Selection(
        ids=tuple(getattr(args, "ids", ()) or ()),
        codes=tuple(args.reason),
        district=args.district,
        since=args.since,
        until=args.until,
        statuses=statuses,
    )


def _is_time(text: str) -> bool:
    import datetime as dt

    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _origin(origin: dict[str, Any]) -> str:
    if "file" in origin:
        return f"{origin['file']}:{origin.get('line')}"
    if "topic" in origin:
        return f"{origin['topic']}[{origin.get('partition')}]@{origin.get('offset')}"
    return str(origin)


def _list(args: argparse.Namespace, warehouse: Path) -> int:
    from streams.dead_letters import read_dead_letters

    statuses = None if args.status == "all" else (args.status,)
    letters = _selection(args, statuses).apply(read_dead_letters(warehouse))
    by_reason = dict(sorted(Counter(dl.code for dl in letters).items()))
    if args.json:
        print(
            json_line({"count": len(letters), "by_reason": by_reason, "dead_letters": [dl.to_dict() for dl in letters]})
        )
        return 0
    if not letters:
        print(f"no {'' if statuses is None else args.status + ' '}dead letters in {plain(warehouse)} match")
        return 0
    print(
        f"{len(letters)} {'' if statuses is None else args.status + ' '}dead letter(s): "
        + ", ".join(f"{plain(k)} {v}" for k, v in by_reason.items())
    )
    for dl in letters[: max(0, args.limit)]:
        print(
            f"{dl.id[:12]}  {dl.status:<9} {plain(dl.code):<24} {plain(dl.district or '-'):<8} {dl.landed_at}  "
            f"{plain(_origin(dl.origin))}  {plain(dl.reason)[:100]}"
        )
    if len(letters) > args.limit:
        print(f"… and {len(letters) - args.limit} more (--limit, or --json for all)")
    return 0


def _one(warehouse: Path, prefix: str) -> Any:
    from streams.dead_letters import find, read_dead_letters

    if len(prefix) < MIN_PREFIX:
        raise UserError(
            f"{prefix!r} is too short: give at least {MIN_PREFIX} characters of a dead letter's id "
            f"(junheng dlq list shows them)"
        )
    hit = find(read_dead_letters(warehouse), prefix)
    if hit is None:
        raise UserError(f"no dead letter's id starts with {prefix!r} in {warehouse} (junheng dlq list --status all)")
    if isinstance(hit, list):
        raise UserError(f"{len(hit)} dead letters' ids start with {prefix!r}: give more characters")
    return hit


def _show(args: argparse.Namespace, warehouse: Path) -> int:
    dl = _one(warehouse, args.id)
    doc = dl.to_dict(full=True)
    if args.json:
        print(json_line(doc))
        return 0
    for key in (
        "id",
        "status",
        "reason_code",
        "reason",
        "district_code",
        "event_id",
        "event_type",
        "landed_at",
        "landings",
        "replayable",
    ):
        print(f"{key + ':':<15}{plain(doc[key])}")
    print(f"{'origin:':<15}{plain(_origin(doc['origin']))}")
    for a in dl.actions:
        print(
            f"{'action:':<15}{a.at} {a.action}"
            + (f" -> {plain(a.outcome)}" if a.outcome else "")
            + (f" ({plain(a.note)})" if a.note else "")
        )
    print("raw:")
    print(plain(dl.raw))
    return 0


def _act(args: argparse.Namespace, warehouse: Path) -> int:
    from streams.dead_letters import OPEN, read_dead_letters

    if not (args.ids or args.reason or args.district or args.since or args.until or args.all):
        raise UserError(
            f"name the dead letters to {args.dlq_command}: IDs, --reason, --district, --since/--until, "
            f"or --all for every open one"
        )
    for prefix in args.ids:
        _one(warehouse, prefix)  # a mistyped id is an error, not an empty selection
    with hold_warehouse(warehouse, args.wait, create=False):  # chosen and acted on under one hold
        everything = read_dead_letters(warehouse)
        letters = _selection(args, (OPEN,)).apply(everything)
        if args.ids:
            closed = [dl for dl in _selection(args, None).apply(everything) if dl.status != OPEN]
            for dl in closed:
                print(f"junheng dlq: {dl.id[:12]} is {dl.status}, not open: left alone", file=sys.stderr)
        if args.dlq_command == "discard":
            from streams.dead_letters import discard

            discard(warehouse, letters, args.note)
            if args.json:
                print(json_line({"discarded": len(letters), "ids": [dl.id for dl in letters], "note": args.note}))
            else:
                print(f"{len(letters)} dead letter(s) discarded: {plain(args.note)}")
            return 0
        return _replay(args, warehouse, letters)


def _replay(args: argparse.Namespace, warehouse: Path, letters: list[Any]) -> int:
    from rules import load_catalogue
    from streams.dead_letters import fed_by_a_worker, replay
    from streams.embedded import EmbeddedRunner

    workers = fed_by_a_worker(warehouse)
    if args.kafka:
        if not workers:
            raise UserError(f"no Kafka worker landed into {warehouse}: replay without --kafka (the embedded driver)")
        return _replay_to_kafka(args, warehouse, letters)
    if workers:
        raise UserError(
            f"{warehouse} is fed by the Kafka worker ({', '.join(workers)}): its district states are the "
            f"worker's; replay with --kafka (the records are produced to the events topic again)"
        )
    runner = EmbeddedRunner(warehouse, catalogue=load_catalogue(settings.catalogue_name()), gx=not args.no_gx)
    done = replay(runner, letters, note=args.note, wait_s=args.wait)
    if runner.recovered:
        print(f"warehouse {warehouse}: {runner.recovered}", file=sys.stderr)
    doc = done.as_dict()
    if args.json:
        print(json_line(doc))
    else:
        c = doc["counts"]
        print(
            f"replayed {doc['replayed']} dead letter(s): "
            + (", ".join(f"{plain(k)} {v}" for k, v in sorted(doc["outcomes"].items())) or "nothing to replay")
        )
        print(
            f"events: read {c['read']} = applied {c['applied']} + duplicate {c['duplicate']} + stale {c['stale']} "
            f"+ dead-lettered {c['dead_lettered']}"
        )
        if done.skipped:
            print(
                f"{len(done.skipped)} not replayable (the landing keeps only their first 64 KiB as text): "
                f"discard them with junheng dlq discard --note",
                file=sys.stderr,
            )
        if done.still_dead:
            print(
                f"{done.still_dead} refused again for the same reason: still open (junheng dlq list)", file=sys.stderr
            )
        print("the marts change at the next build: junheng build")
    return EXIT_DEAD_LETTERED if done.still_dead else 0


def _replay_to_kafka(args: argparse.Namespace, warehouse: Path, letters: list[Any]) -> int:
    from kafka.errors import KafkaError

    from streams.dead_letters import replay_to_kafka

    kafka = settings.settings().kafka
    try:
        done = replay_to_kafka(warehouse, letters, kafka, note=args.note)
    except UserError:
        raise
    except (RuntimeError, KafkaError) as exc:  # no such topic, no broker: nothing was recorded
        raise UserError(f"{type(exc).__name__}: {exc} (Kafka at {kafka.bootstrap_servers})") from None
    if args.json:
        print(json_line(done))
    else:
        print(
            f"{done['produced']} dead letter(s) produced to {plain(done['topic'])} again: the worker judges them; "
            f"those it refuses again for the same reason are listed as open again (junheng dlq list)"
        )
        for failure in done["failed"]:
            print(f"junheng dlq: not produced: {plain(failure)}", file=sys.stderr)
        if done["not_replayable"]:
            print(
                f"{len(done['not_replayable'])} not replayable (the landing keeps only their first 64 KiB as "
                f"text): discard them with junheng dlq discard --note",
                file=sys.stderr,
            )
    return 1 if done["failed"] else 0
