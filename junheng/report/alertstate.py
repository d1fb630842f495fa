"""Which alerts are open on a date, from the state changes of `mart_alerts`, and since when.

Why apart from the loading: the rule (latest firing row not closed by a later resolved one, changes
after `as_of` not known yet) is the one thing about alerts that must be right; it is tested on its
own with rows made by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

__all__ = ["open_alerts", "as_datetime", "since", "SEVERITY_ORDER"]

SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2}

#: when the district fell behind: mart_alerts.fell_behind_at, the event time (occurred_at, to the
#: minute) of the change that made the rule fail (junheng/alerting/behind.py); `starts_at` (when the
#: alert began firing) where that is unknown (city alerts, history landed before it was recorded)
SINCE_COLUMNS = ("fell_behind_at", "starts_at")


def as_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None


def open_alerts(rows: Sequence[dict[str, Any]], as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """The alerts firing at the end of `as_of`: per alert_id, the latest 'firing' row that no later
    'resolved' row closes (a resolved row without a time closes every firing row). State changes
    after `as_of` are not known yet and are ignored: those of an evaluation that judged a later date
    (the row's ``as_of``), or, for the stream's changes (no ``as_of``), recorded after it. An
    evaluation judging `as_of` counts whenever it ran, so the report of a build shows the alerts
    that build evaluated (also a build judged on a past date). Sorted by severity, then by how long
    they have fired."""
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()) if as_of else None
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("alert_id") is None or r.get("state") not in ("firing", "resolved"):
            continue
        # when the change happened: the time it was recorded (changed_at, when the mart has it), else
        # starts_at for a firing row and ends_at for a resolved one
        at = as_datetime(r.get("changed_at")) or (
            as_datetime(r.get("starts_at"))
            if r["state"] == "firing"
            else (as_datetime(r.get("ends_at")) or as_datetime(r.get("starts_at")))
        )
        judged = r.get("as_of")
        if isinstance(judged, str):
            judged = dt.date.fromisoformat(judged[:10])
        if isinstance(judged, dt.datetime):
            judged = judged.date()
        if as_of is not None and isinstance(judged, dt.date):
            if judged > as_of:
                continue
        elif cutoff is not None and at is not None and at >= cutoff:
            continue
        by_alert.setdefault(r["alert_id"], []).append({**r, "_at": at})
    result = []
    for changes in by_alert.values():
        firing = [c for c in changes if c["state"] == "firing"]
        if not firing:
            continue
        latest = max(firing, key=lambda c: c["_at"] or dt.datetime.min)
        closed = any(
            c["state"] == "resolved" and (c["_at"] is None or latest["_at"] is None or c["_at"] >= latest["_at"])
            for c in changes
        )
        if not closed:
            result.append({k: v for k, v in latest.items() if k != "_at"})
    return sorted(
        result,
        key=lambda a: (
            SEVERITY_ORDER.get(a.get("severity") or "", 9),
            as_datetime(a.get("starts_at")) or dt.datetime.max,
            a.get("district_code") or "",
            a.get("rule_id") or "",
            a["alert_id"],
        ),
    )


def since(alert: dict[str, Any]) -> str:
    """When the alert's district fell behind, to the minute, in UTC ('2026-06-30 08:05 UTC'): the
    first of SINCE_COLUMNS the row has a value for (the event time when it is known)."""
    for column in SINCE_COLUMNS:
        at = as_datetime(alert.get(column))
        if at is not None:
            return at.strftime("%Y-%m-%d %H:%M") + " UTC"
    return "—"
