"""Command line: ``python -m ingestion.synthetic --seed 2021 --schools 1000 --out events.jsonl``.

Streams the events to ``--out`` (so 200,000 schools need no more memory than their skeletons)
and prints the manifest as JSON on standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .city import write_city


def _years(text: str) -> range:
    """``2021-2025`` (inclusive) or a single year ``2023``."""
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.synthetic",
        description="Write reproducible synthetic school and district events as JSONL.",
    )
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--districts", type=int, default=10, help="Qingdao's ten, plus fake districts beyond ten")
    parser.add_argument("--years", type=_years, default=range(2021, 2026), help="inclusive range, e.g. 2021-2025")
    parser.add_argument("--out", required=True, help="JSONL file to write")
    parser.add_argument("--bad-fraction", type=float, default=0.0)
    parser.add_argument("--duplicate-fraction", type=float, default=0.0)
    parser.add_argument("--stale-fraction", type=float, default=0.0)
    parser.add_argument("--correction-fraction", type=float, default=0.01)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    manifest = write_city(
        args.out,
        seed=args.seed,
        years=args.years,
        schools=args.schools,
        bad_fraction=args.bad_fraction,
        duplicate_fraction=args.duplicate_fraction,
        stale_fraction=args.stale_fraction,
        districts=args.districts,
        correction_fraction=args.correction_fraction,
    )
    manifest["seconds"] = round(time.perf_counter() - start, 2)
    json.dump(manifest, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
