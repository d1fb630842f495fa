"""Alert history as landing Parquet: one row per alert × state change, in
``<warehouse>/landing/alert_events/part-<batch>-alerts.parquet``, written atomically by a
:class:`~streams.landing.LandingWriter` subclass (same layout, same ``landed_batch`` /
``landed_pos`` / ``landed_at`` columns, batch numbers shared with the stream's tables so a
restarted stream writer never reuses a name). dbt's ``mart_alerts`` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from junheng.alerting.model import parse_time
from streams.landing import LandingWriter

TABLE = "alert_events"
WRITER_ID = "alerts"

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("alert_id", pa.string()),
        ("alertname", pa.string()),
        ("district_code", pa.string()),
        ("district_name", pa.string()),
        ("scope", pa.string()),
        ("rule_id", pa.string()),
        ("year", pa.int32()),
        ("severity", pa.string()),
        ("state", pa.string()),
        ("source", pa.string()),
        ("starts_at", pa.timestamp("us")),
        ("ends_at", pa.timestamp("us")),
        ("fell_behind_at", pa.timestamp("us")),
        ("summary", pa.string()),
        ("description", pa.string()),
        ("clause", pa.string()),
        ("fix", pa.string()),
        ("labels", pa.string()),
        ("annotations", pa.string()),
        ("evaluated_at", pa.timestamp("us")),
        ("as_of", pa.date32()),
        ("run_id", pa.string()),
    ]
)


def _naive_utc(value: str | None) -> Any:
    t = parse_time(value)
    return None if t is None else t.replace(tzinfo=None)


def event_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """An alert event (model.alert_event) as a row of SCHEMA; times as naive UTC."""
    import datetime as dt

    return {
        "event_id": event["event_id"],
        "alert_id": event["alert_id"],
        "alertname": event["alertname"],
        "district_code": event["district_code"],
        "district_name": event.get("district_name"),
        "scope": event["scope"],
        "rule_id": event["rule_id"],
        "year": event.get("year"),
        "severity": event["severity"],
        "state": event["status"],
        "source": event["source"],
        "starts_at": _naive_utc(event["startsAt"]),
        "ends_at": _naive_utc(event.get("endsAt")),
        "fell_behind_at": _naive_utc(event.get("fell_behind_at")),
        "summary": event["summary"],
        "description": event["description"],
        "clause": event.get("clause"),
        "fix": event.get("fix"),
        "labels": json.dumps(event["labels"], ensure_ascii=False, sort_keys=True),
        "annotations": json.dumps(event["annotations"], ensure_ascii=False, sort_keys=True),
        "evaluated_at": _naive_utc(event["evaluated_at"]),
        "as_of": dt.date.fromisoformat(event["as_of"]) if event.get("as_of") else None,
        "run_id": event.get("run_id"),
    }


class AlertEventWriter(LandingWriter):
    """A LandingWriter that knows the ``alert_events`` table."""

    def __init__(self, root: str | Path, writer_id: str = WRITER_ID) -> None:
        super().__init__(root, writer_id, schemas={TABLE: SCHEMA})

    def write_events(self, events: Sequence[Mapping[str, Any]]) -> Path | None:
        """Land alert events as the next batch; None when there are none."""
        if not events:
            return None
        return self.write(TABLE, [event_row(e) for e in events], self.next_batch_number())


def read_history(landing_root: str | Path) -> list[dict[str, Any]]:
    """All landed alert events in landing order (for tests and for a quick look without dbt)."""
    folder = Path(landing_root) / TABLE
    files = sorted(folder.glob("part-*.parquet"))
    rows: list[dict[str, Any]] = []
    for f in files:
        rows += pq.read_table(f).to_pylist()
    rows.sort(key=lambda r: (r["landed_batch"], r["landed_pos"]))
    return rows
