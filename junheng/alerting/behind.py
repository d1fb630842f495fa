"""When a district fell behind: the event time an alert is about (``fell_behind_at``), not the time
the pipeline first evaluated it (``starts_at``).

The warehouse's landing folder says it. Every batch lands the events it applied (``events``, each
with its ``occurred_at``) beside the district status rows it changed (``district_status``: the
district-year's attainment, failed and undecided rule ids) and the district outlooks it recomputed
(``district_outlook``: ``at_risk``), in files of the same name (``part-<batch>-<writer>.parquet``).
So a status row has an **event time**: the latest ``occurred_at`` among the district's events that
batch applied (those of the row's year if the batch has any, else any of the district's). Walking a
district-year's rows in landing order, a verdict *fell behind* at the event time of the first row
where it fails after its last passing row (an undecided row neither passes nor fails: a missing
input is not a verdict). Per alert (docs/alerts.md, "Since when"):

- ``DistrictBehind`` DCY / C1 and ``DistrictAttainmentLost``: the district-year's ``attained``
  verdict turned false;
- ``DistrictVetoed`` Vn: the veto's rule id entered ``failed_items``;
- ``DistrictAtRisk``: the district's outlook turned ``at_risk``;
- ``DistrictDeadlineMissed`` D1–D3: the deadline passed: the end of its due day in Qingdao
  (00:00 +08:00 the next day), from ``intermediate.int_district_deadlines.due_on``;
- ``DistrictBehind`` C2–C13 (district targets judged by dbt, not in the status rows), and any alert
  whose verdict the rows do not show failing: the latest ``occurred_at`` of the district-year's
  events landed when the alert first fired (the book keeps an episode's first value);
- city alerts: none (no district's event makes the city fall behind; the report shows starts_at).

Times are UTC, cut to the minute.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junheng.alerting.describe import DCY
from junheng.alerting.model import (
    DISTRICT_AT_RISK,
    DISTRICT_ATTAINMENT_LOST,
    DISTRICT_BEHIND,
    DISTRICT_DEADLINE_MISSED,
    DISTRICT_VETOED,
    Alert,
    parse_time,
    to_minute,
)

#: the pseudo rule ids the walk tracks beside the status rows' own rule ids
ATTAINED = "attained"
OUTLOOK = "at_risk"
#: Qingdao's offset: a deadline day ends at 00:00 +08:00 the next day
QINGDAO = dt.timezone(dt.timedelta(hours=8))

Key = tuple[str, int, str]  # district_code, year, verdict (a rule id, ATTAINED or OUTLOOK)


def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return [str(v) for v in value]


def event_time(value: Any) -> dt.datetime | None:
    """An ``occurred_at`` (ISO text with its offset, or a datetime) as UTC cut to the minute; a
    time without an offset is read as UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return to_minute(value)  # a naive one is UTC
    try:
        return to_minute(parse_time(str(value)))
    except ValueError:
        return None


def batch_event_times(applied: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int | None], dt.datetime]:
    """Per (district, year) and per (district, None): the latest event time among one batch's
    applied events (what the worker hook knows of the batch it is given)."""
    latest: dict[tuple[str, int | None], dt.datetime] = {}
    for e in applied:
        t = event_time(e.get("occurred_at"))
        if t is None or not e.get("district_code"):
            continue
        for key in ((e["district_code"], e.get("year")), (e["district_code"], None)):
            if key not in latest or t > latest[key]:
                latest[key] = t
    return latest


def with_event_times(rows: Sequence[Mapping[str, Any]], applied: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One batch's status rows, each with the ``event_time`` of the batch's events of its district."""
    times = batch_event_times(applied)
    return [
        {**r, "event_time": times.get((r["district_code"], r.get("year"))) or times.get((r["district_code"], None))}
        for r in rows
    ]


@dataclass
class Walk:
    """The fell-behind times of every verdict the status and outlook rows show failing now."""

    since: dict[Key, dt.datetime | None] = field(default_factory=dict)
    _rules: dict[tuple[str, int], dict[str, dt.datetime | None]] = field(default_factory=dict)

    def status(self, row: Mapping[str, Any]) -> None:
        """Step one district status row (in landing order)."""
        code, year, t = row["district_code"], int(row["year"]), row.get("event_time")
        self._flag((code, year, ATTAINED), row.get("attained"), t)
        failed, undecided = _items(row.get("failed_items")), set(_items(row.get("undecided_items")))
        old = self._rules.get((code, year), {})
        new = {rid: old.get(rid) or t for rid in failed}
        new.update({rid: old[rid] for rid in undecided if rid in old and rid not in new})
        self._rules[(code, year)] = new
        for rid in set(old) - set(new):
            self.since.pop((code, year, rid), None)
        for rid, at in new.items():
            self.since[(code, year, rid)] = at

    def outlook(self, row: Mapping[str, Any]) -> None:
        """Step one district outlook row (in landing order)."""
        self._flag((row["district_code"], int(row["year"]), OUTLOOK), row.get("at_risk"), row.get("event_time"))

    def _flag(self, key: Key, passed_or_risk: bool | None, t: dt.datetime | None) -> None:
        failing = passed_or_risk is False if key[2] == ATTAINED else passed_or_risk is True
        if failing:
            self.since[key] = self.since.get(key) or t
        elif passed_or_risk is not None:  # passing (not at risk): behind no more
            self.since.pop(key, None)


@dataclass
class LandedHistory:
    """What the landing folder says about event times (read once per evaluation)."""

    statuses: list[dict[str, Any]] = field(default_factory=list)  # with event_time, in landing order
    walk: Walk = field(default_factory=Walk)
    latest: dict[tuple[str, int], dt.datetime] = field(default_factory=dict)  # per district-year

    def fell_behind_at(self, alert: Alert) -> dt.datetime | None:
        """The event time since which `alert`'s condition holds (module doc), None if unknown."""
        code, year = alert.district_code, alert.year
        if code is None or year is None:
            return None
        if alert.alertname == DISTRICT_DEADLINE_MISSED:
            return None  # the deadline (deadline_times), not an event
        key: Key | None = None
        if alert.alertname == DISTRICT_ATTAINMENT_LOST or (
            alert.alertname == DISTRICT_BEHIND and alert.rule_id in (DCY, "C1")
        ):
            key = (code, year, ATTAINED)
        elif alert.alertname == DISTRICT_VETOED:
            key = (code, year, alert.rule_id)
        elif alert.alertname == DISTRICT_AT_RISK:
            key = (code, year, OUTLOOK)
        return (self.walk.since.get(key) if key else None) or self.latest.get((code, year))

    def attach(self, alerts: Iterable[Alert]) -> None:
        """Set ``fell_behind_at`` on the alerts that have none yet."""
        for a in alerts:
            if a.fell_behind_at is None:
                a.fell_behind_at = self.fell_behind_at(a)


def _glob(folder: Path) -> str:
    """``folder/part-*.parquet`` as a DuckDB string literal: the folder's glob characters matched
    literally and its quotes doubled, so a warehouse path like ``/data/o'brien [2024]`` is read, not a
    syntax error or an empty match (the dbt sources do the same: dbt_project/macros/landing.sql)."""
    literal = folder.as_posix().replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
    return "'" + f"{literal}/part-*.parquet".replace("'", "''") + "'"


def _has_parts(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("part-*.parquet"))


def _dicts(cur: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def read_landed(landing_root: str | Path) -> LandedHistory | None:
    """The landed status rows (with their event times), the walk over them and the outlooks, and
    each district-year's latest event time; None when no status row was ever landed."""
    import duckdb

    root = Path(landing_root)
    status_dir, events_dir, outlook_dir = root / "district_status", root / "events", root / "district_outlook"
    if not _has_parts(status_dir):
        return None
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")  # an occurred_at without its offset is UTC, as event_time() reads it
        if _has_parts(events_dir):
            con.execute(
                f"""create temp table ev as
                select landed_batch as b, regexp_extract(filename, '[^/]*$') as f, district_code as d, year as y,
                       max(timezone('UTC', try_cast(occurred_at as timestamptz))) as t
                from read_parquet({_glob(events_dir)}, union_by_name = true, filename = true) group by all"""
            )
        else:
            con.execute(
                "create temp table ev as select 0::bigint b, ''::varchar f, ''::varchar d, 0::int y, "
                "null::timestamp t where false"
            )
        con.execute("create temp table evd as select b, f, d, max(t) as t from ev group by all")

        def timed(folder: Path, columns: str, same_year: bool) -> list[dict[str, Any]]:
            year_join = (
                "left join ev on ev.b = s.landed_batch and ev.f = s.f and ev.d = s.district_code and ev.y = s.year"
                if same_year
                else "left join (select null::timestamp t) ev on false"
            )
            return _dicts(
                con.execute(
                    f"""
                select {columns}, coalesce(ev.t, evd.t) as event_time
                from (select *, regexp_extract(filename, '[^/]*$') as f
                      from read_parquet({_glob(folder)}, union_by_name = true, filename = true)) s
                {year_join}
                left join evd on evd.b = s.landed_batch and evd.f = s.f and evd.d = s.district_code
                order by s.landed_batch, s.filename, s.landed_pos"""
                )
            )

        history = LandedHistory()
        history.statuses = timed(
            status_dir,
            "s.district_code, s.year, s.attained, s.previous_attained, s.failed_items, s.undecided_items, s.vetoed",
            True,
        )
        for row in history.statuses:
            row["event_time"] = event_time(row["event_time"])
            history.walk.status(row)
        if _has_parts(outlook_dir):
            for row in timed(outlook_dir, "s.district_code, s.year, s.at_risk", False):
                history.walk.outlook({**row, "event_time": event_time(row["event_time"])})
        for d, y, t in con.execute("select d, y, max(t) from ev group by all").fetchall():
            latest = to_minute(t)
            if latest is not None:
                history.latest[(d, int(y))] = latest
        return history
    finally:
        con.close()


def _end_of_day(due: dt.date) -> dt.datetime:
    """The moment a deadline day has passed in Qingdao (00:00 +08:00 the next day), as UTC."""
    return dt.datetime.combine(due + dt.timedelta(days=1), dt.time(), tzinfo=QINGDAO).astimezone(dt.UTC)


def deadline_times(con: Any) -> dict[Key, dt.datetime]:
    """When each deadline D1–D3 of a district-year passed, from the marts' own due dates
    (``intermediate.int_district_deadlines.due_on``, in the build's database); empty when they are
    not there (the published copy keeps only the marts: :func:`attach_deadlines` then reads the
    catalogue)."""
    try:
        rows = con.execute(
            "select district_code, year, rule_id, due_on from intermediate.int_district_deadlines"
        ).fetchall()
    except Exception:
        return {}
    return {(code, int(year), rid): _end_of_day(due) for code, year, rid, due in rows if due is not None}


def _catalogue() -> Any:
    """The rules catalogue in use (JUNHENG_CATALOGUE), or None when it cannot be read (the deadlines'
    times are then unknown, never an error of the evaluation)."""
    try:
        from junheng.settings import catalogue_name
        from rules import load_catalogue

        return load_catalogue(catalogue_name())
    except Exception:
        return None


def catalogue_due(catalogue: Any, rule_id: str, year: int) -> dt.date | None:
    """A deadline's due day for a statistical year from the rules catalogue (its params
    ``year_offset``, ``month``, ``day``: rules/accountability.py deadline_result)."""
    try:
        p = catalogue.rules[rule_id].params
        return dt.date(year + int(p["year_offset"]), int(p["month"]), int(p["day"]))
    except (AttributeError, KeyError, TypeError, ValueError):  # no catalogue, or not a deadline of it
        return None


def attach_deadlines(alerts: Iterable[Alert], due: Mapping[Key, dt.datetime]) -> None:
    """Set ``fell_behind_at`` of the missed deadlines to the moment the deadline passed."""
    catalogue = None
    for a in alerts:
        if a.alertname == DISTRICT_DEADLINE_MISSED and a.district_code and a.year is not None:
            at = due.get((a.district_code, a.year, a.rule_id))
            if at is None:
                if catalogue is None:
                    catalogue = _catalogue()
                day = catalogue_due(catalogue, a.rule_id, a.year)
                at = _end_of_day(day) if day is not None else None
            a.fell_behind_at = at or a.fell_behind_at
