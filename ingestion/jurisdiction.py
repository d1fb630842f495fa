"""A warehouse's jurisdiction: the rules catalogue and the district list its events are judged with
and its marts are built with, recorded in the warehouse (``<warehouse>/jurisdiction.json``).

    j = Jurisdiction.current()                  # what the environment says: JUNHENG_CATALOGUE, JUNHENG_DISTRICTS
    note = record(WarehouseLayout(wh), j, by="junheng build")   # a line when it changed, else None

Both are configuration, not package contents: a second city points ``JUNHENG_DISTRICTS`` at its own
CSV and ``JUNHENG_CATALOGUE`` at its catalogue (a name or a YAML path), and the build renders the
dbt seeds for them into the warehouse's own folder (junheng/build/project.py), so two warehouses
can serve two cities from one installed package. The record is written by every command that
judges or builds (``junheng run``, the worker, the build) so an operator sees which jurisdiction a
warehouse was last served with, and a change is named where it happens (the build summary, the
published build's manifest). The district list is identified by path *and* digest: a list edited
in place is a different list.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingestion.reference import districts_csv
from junheng.errors import UserError
from junheng.layout import WarehouseLayout
from junheng.settings import settings
from rules.loader import Catalogue, load_catalogue

__all__ = ["Jurisdiction", "JurisdictionError", "record", "recorded"]

#: the fields whose change is a change of jurisdiction (not when or by whom it was recorded)
_IDENTITY = ("catalogue", "catalogue_version", "districts", "districts_digest")


class JurisdictionError(UserError):
    """The district list cannot be read (a wrong ``JUNHENG_DISTRICTS``): one line naming the file,
    exit 2, before anything is judged or landed."""


@dataclass(frozen=True)
class Jurisdiction:
    catalogue: str  # as configured: a name in rules/catalogue/, or the YAML file's absolute path
    catalogue_name: str  # the catalogue's own name (its `catalogue:` key)
    catalogue_version: str  # e.g. national-2017@2017.1+qingdao-2021@2021.1
    districts: str  # the district list's absolute path
    districts_digest: str  # sha256 of its bytes (16 hex digits)
    district_count: int
    packaged_districts: bool  # the list shipped with the package (no JUNHENG_DISTRICTS)

    @classmethod
    def current(cls, catalogue: str | Path | None = None, loaded: Catalogue | None = None) -> Jurisdiction:
        """The jurisdiction this process judges with: ``catalogue`` (name or path; default
        ``$JUNHENG_CATALOGUE``), ``loaded`` when the caller has loaded it already, and
        ``$JUNHENG_DISTRICTS`` (or the packaged list)."""
        configured = str(catalogue or settings().catalogue)
        cat = loaded if loaded is not None else load_catalogue(configured)
        as_path = Path(configured)
        if as_path.suffix in (".yaml", ".yml") and as_path.exists():
            configured = str(as_path.resolve())
        path = districts_csv()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise JurisdictionError(
                f"cannot read the district list {path} (JUNHENG_DISTRICTS): {exc.strerror or exc}"
            ) from None
        rows = list(csv.DictReader(data.decode("utf-8-sig").splitlines()))
        return cls(
            catalogue=configured,
            catalogue_name=cat.name,
            catalogue_version=cat.version,
            districts=str(path.resolve()),
            districts_digest=hashlib.sha256(data).hexdigest()[:16],
            district_count=len(rows),
            packaged_districts=settings().districts is None,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a summary."""
        districts = "the packaged district list" if self.packaged_districts else self.districts
        return (
            f"catalogue {self.catalogue} ({self.catalogue_version}), {self.district_count} districts from "
            f"{districts} (sha256 {self.districts_digest})"
        )

    def changes_from(self, before: Mapping[str, Any] | None) -> list[str]:
        """What differs from an earlier record, in words (empty: the same jurisdiction)."""
        if not before:
            return []
        said = []
        if (before.get("catalogue"), before.get("catalogue_version")) != (self.catalogue, self.catalogue_version):
            said.append(
                f"catalogue {before.get('catalogue')} ({before.get('catalogue_version')}) → "
                f"{self.catalogue} ({self.catalogue_version})"
            )
        if (before.get("districts"), before.get("districts_digest")) != (self.districts, self.districts_digest):
            said.append(
                f"district list {before.get('districts')} (sha256 {before.get('districts_digest')}) → "
                f"{self.districts} (sha256 {self.districts_digest})"
            )
        return said


def recorded(layout: WarehouseLayout) -> dict[str, Any] | None:
    """What the warehouse recorded last (None: nothing yet, or an unreadable file)."""
    try:
        doc = json.loads(layout.jurisdiction.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def record(layout: WarehouseLayout, jurisdiction: Jurisdiction, by: str) -> str | None:
    """Record ``jurisdiction`` as the warehouse's (atomically: a worker and a build may both write).
    Returns a line saying what changed since the last record, or None when nothing did. The file
    is rewritten only on a change, so it says when the jurisdiction was set and by which command."""
    before = recorded(layout)
    changes = jurisdiction.changes_from(before)
    if before is not None and not changes:
        return None
    doc = {
        **jurisdiction.as_dict(),
        "recorded_by": by,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if before is not None:
        doc["previous"] = {k: before.get(k) for k in (*_IDENTITY, "recorded_by", "recorded_at")}
    layout.root.mkdir(parents=True, exist_ok=True)
    tmp = layout.jurisdiction.with_name(f".{layout.jurisdiction.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, layout.jurisdiction)
    if before is None:
        return None
    return f"the warehouse's jurisdiction changed ({'; '.join(changes)}), recorded by {by}"
