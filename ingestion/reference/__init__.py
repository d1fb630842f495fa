"""Reference data: the jurisdiction's districts. An event naming a district not listed here is
dead-lettered as unknown; the list is data (a CSV), so another city swaps the file."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class District:
    code: str
    name_zh: str
    name_en: str
    kind: str
    profile: str


def load_districts(path: str | Path | None = None) -> dict[str, District]:
    """The districts by code, from `path` or the packaged Qingdao list."""
    source = Path(path) if path else Path(str(resources.files("ingestion.reference") / "districts.csv"))
    with source.open(encoding="utf-8", newline="") as fh:
        return {row["district_code"]: District(row["district_code"], row["name_zh"], row["name_en"],
                                               row["kind"], row["profile"])
                for row in csv.DictReader(fh)}
