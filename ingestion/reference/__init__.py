"""Reference data: the jurisdiction's districts. An event naming a district not listed here is
dead-lettered as unknown; the list is data (a CSV), so another city swaps the file: set
``JUNHENG_DISTRICTS`` to its path (both drivers and the worker judge with it; ``junheng build``
renders the warehouse's dbt seeds from it; ingestion/jurisdiction.py records it in the warehouse)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from junheng.settings import settings


@dataclass(frozen=True)
class District:
    code: str
    name_zh: str
    name_en: str
    kind: str
    profile: str


def districts_csv() -> Path:
    """The jurisdiction's district list: ``$JUNHENG_DISTRICTS`` or the packaged Qingdao list.

    An environment variable rather than an argument because the list must be the same in every
    process that judges events (embedded driver, Faust worker subprocesses, the build's seed check).
    """
    override = settings().districts
    return override if override else Path(str(resources.files("ingestion.reference") / "districts.csv"))


def load_districts(path: str | Path | None = None) -> dict[str, District]:
    """The districts by code, from `path` or :func:`districts_csv`."""
    source = Path(path) if path else districts_csv()
    with source.open(encoding="utf-8", newline="") as fh:
        return {
            row["district_code"]: District(
                row["district_code"], row["name_zh"], row["name_en"], row["kind"], row["profile"]
            )
            for row in csv.DictReader(fh)
        }
