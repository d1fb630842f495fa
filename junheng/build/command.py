"""``junheng build`` / ``python -m junheng.build``: one build, its summary or its failure."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Sequence

from junheng import settings
from junheng.build.errors import BuildError
from junheng.build.pipeline import build
from junheng.errors import UserError
from junheng.warehouse_lock import WarehouseBusy

__all__ = ["add_arguments", "cmd_build", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--warehouse", default=str(settings.default_warehouse()),
                        help="the folder holding landing/ (default: $JUNHENG_WAREHOUSE or ./warehouse)")
    parser.add_argument("--as-of", help="judge deadlines on this date, YYYY-MM-DD (default: today)")
    parser.add_argument("--catalogue", help="rules catalogue name or path (default: $JUNHENG_CATALOGUE or qingdao-2021)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--quiet", action="store_true", help="do not echo dbt's output")
    parser.add_argument("--no-alerts", action="store_true",
                        help="skip the alert stage (evaluation, mart_alerts from it, delivery)")
    parser.add_argument("--no-report", action="store_true", help="do not write the report")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for another command on the warehouse to finish (default: refuse at once)")
    return parser


def cmd_build(args: argparse.Namespace) -> int:
    """Run :func:`build` for parsed arguments; 0 on success, 1 with the failure on stderr (2 for
    what the user can fix: a busy warehouse or working database, no landing)."""
    from junheng.terminal import json_line, plain

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    quiet = bool(getattr(args, "quiet", False) or getattr(args, "json", False))
    echo = None if quiet else (lambda line: print(line, flush=True))
    try:
        result = build(Path(args.warehouse), as_of=as_of, catalogue=args.catalogue, echo=echo,
                       wait_s=getattr(args, "wait", 0.0), alerts=not getattr(args, "no_alerts", False),
                       report=not getattr(args, "no_report", False))
    except WarehouseBusy as exc:
        print(f"junheng build: {exc}", file=sys.stderr)
        return 2
    except BuildError as exc:
        if getattr(args, "json", False):
            print(json_line({"success": False, "stage": exc.stage, "error": str(exc), "timings": exc.timings,
                             "checkpoint_results": getattr(exc.checkpoint, "results_path", None)}))
        print(f"junheng build failed at {exc.stage}: {plain(exc, lines=not isinstance(exc, UserError))}",
              file=sys.stderr)
        return exc.exit_code if isinstance(exc, UserError) else 1
    if getattr(args, "json", False):
        print(json_line(result.to_dict()))
    else:
        print(result.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(
        prog="python -m junheng.build", description="dbt build, marts checkpoint, publish, Parquet export"))
    return cmd_build(parser.parse_args(argv))
