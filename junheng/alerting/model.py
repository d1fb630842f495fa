"""An alert: one condition that is true of a district (or of the city) in one statistical year.

An alert is identified by what it is about, never by its wording: ``alert_id`` is the SHA-256 of
the identifying labels ``alertname``, ``district_code``, ``rule_id`` and ``year`` (canonical JSON,
see :func:`fingerprint`). The same condition therefore has the same id in every run, from either
source (marts or stream) and from either driver (embedded or Kafka worker), even when its summary
changes ("only 0 of 3" → "only 1 of 3").

Labels are what Alertmanager routes and groups on; annotations are what a person reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

FIRING = "firing"
RESOLVED = "resolved"
STATES = (FIRING, RESOLVED)
SEVERITIES = ("critical", "major", "minor")

#: ``district_code`` label of alerts about the whole city (null in mart_alerts)
CITY = "city"
#: the constant ``service`` label, so a shared Alertmanager can route Junheng's alerts
SERVICE = "junheng"

# Alert names (the ``alertname`` label); docs/alerts.md describes each.
DISTRICT_BEHIND = "DistrictBehind"  # marts: DCY, C1, C2–C13 behind reasons
DISTRICT_DEADLINE_MISSED = "DistrictDeadlineMissed"  # marts: D1–D3
DISTRICT_VETOED = "DistrictVetoed"  # marts: V1–V5 raised
CITY_OFF_TRACK = "CityOffTrack"  # marts: C1 share below the plan's milestone
CITY_TARGET_MISSED = "CityTargetMissed"  # marts: C4, C10
DISTRICT_ATTAINMENT_LOST = "DistrictAttainmentLost"  # stream: attained True → False
DISTRICT_AT_RISK = "DistrictAtRisk"  # marts: mart_district_outlook.at_risk (junheng/alerting/outlook.py)
ALERT_NAMES = (
    DISTRICT_BEHIND,
    DISTRICT_DEADLINE_MISSED,
    DISTRICT_VETOED,
    CITY_OFF_TRACK,
    CITY_TARGET_MISSED,
    DISTRICT_ATTAINMENT_LOST,
    DISTRICT_AT_RISK,
)

MARTS = "marts"
STREAM = "stream"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(t: dt.datetime | None) -> str | None:
    """UTC, millisecond precision, ``Z`` suffix (what Alertmanager prints back)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_minute(t: dt.datetime | None) -> dt.datetime | None:
    """UTC, seconds and below cut: the precision of ``fell_behind_at`` (an event time to the minute)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).replace(second=0, microsecond=0)


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def canonical_identity(alertname: str, district_code: str | None, rule_id: str, year: int | None) -> str:
    """The text whose SHA-256 is the alert id: compact JSON with sorted keys, the city as ``"city"``,
    the year as a number (or null)."""
    return json.dumps(
        {
            "alertname": alertname,
            "district_code": district_code or CITY,
            "rule_id": rule_id,
            "year": None if year is None else int(year),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def fingerprint(alertname: str, district_code: str | None, rule_id: str, year: int | None) -> str:
    """``alert_id``: 64 hex digits, stable across runs, sources and drivers.

    >>> fingerprint("DistrictBehind", "370203", "C5", 2025)[:16]
    'a696eacb9f56a697'
    """
    return hashlib.sha256(canonical_identity(alertname, district_code, rule_id, year).encode("utf-8")).hexdigest()


@dataclass
class Alert:
    """One alert and where it stands. ``starts_at`` is when it began firing (this episode),
    ``ends_at`` when it was resolved (None while firing), ``last_seen_at`` the last evaluation that
    found the condition true. ``fell_behind_at`` is when the district fell behind: the event time
    (``occurred_at``, UTC, to the minute) of the change that made the rule fail, or the deadline
    that passed (junheng/alerting/behind.py); None when unknown (city alerts)."""

    alertname: str
    district_code: str | None  # None: the city
    rule_id: str
    year: int | None
    severity: str
    summary: str
    description: str
    clause: str = ""
    fix: str = ""  # what to do about it
    reason: str = ""  # the verdict's own words (mart reason, failed items)
    district_name: str | None = None
    source: str = MARTS  # marts | stream
    extra_labels: dict[str, str] = field(default_factory=dict)
    extra_annotations: dict[str, str] = field(default_factory=dict)
    state: str = FIRING
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None
    fell_behind_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        self.fell_behind_at = to_minute(self.fell_behind_at)
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if self.state not in STATES:
            raise ValueError(f"state {self.state!r} is not one of {STATES}")

    # ------------------------------------------------------------------ identity
    @property
    def alert_id(self) -> str:
        return fingerprint(self.alertname, self.district_code, self.rule_id, self.year)

    @property
    def scope(self) -> str:
        return CITY if self.district_code is None else "district"

    @property
    def labels(self) -> dict[str, str]:
        """Alertmanager labels: the identifying ones, severity and the service; all strings."""
        labels = {
            "alertname": self.alertname,
            "district_code": self.district_code or CITY,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "service": SERVICE,
        }
        if self.year is not None:
            labels["year"] = str(self.year)
        for k, v in self.extra_labels.items():
            labels.setdefault(k, str(v))
        return labels

    @property
    def annotations(self) -> dict[str, str]:
        notes = {
            "summary": self.summary,
            "description": self.description,
            "rule_id": self.rule_id,
            "clause": self.clause,
            "fix": self.fix,
            "reason": self.reason,
            "alert_id": self.alert_id,
            "district": (
                f"{self.district_name} ({self.district_code})"
                if self.district_name and self.district_code
                else (self.district_code or "Qingdao (city)")
            ),
        }
        if self.fell_behind_at is not None:
            notes["fell_behind_at"] = rfc3339(self.fell_behind_at) or ""
        notes.update({k: str(v) for k, v in self.extra_annotations.items()})
        return {k: v for k, v in notes.items() if v}

    # ------------------------------------------------------------------ changes
    def fired(self, now: dt.datetime) -> Alert:
        return replace(
            self,
            state=FIRING,
            starts_at=now,
            ends_at=None,
            last_seen_at=now,
            extra_labels=dict(self.extra_labels),
            extra_annotations=dict(self.extra_annotations),
        )

    def resolved(self, now: dt.datetime) -> Alert:
        return replace(
            self,
            state=RESOLVED,
            ends_at=now,
            extra_labels=dict(self.extra_labels),
            extra_annotations=dict(self.extra_annotations),
        )

    def refreshed(self, current: Alert, now: dt.datetime) -> Alert:
        """Still firing: keep the episode (starts_at, and when it fell behind once known), take the
        current wording and severity."""
        return replace(
            current,
            state=FIRING,
            starts_at=self.starts_at,
            fell_behind_at=self.fell_behind_at or current.fell_behind_at,
            ends_at=None,
            last_seen_at=now,
            extra_labels=dict(current.extra_labels),
            extra_annotations=dict(current.extra_annotations),
        )

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "alertname": self.alertname,
            "district_code": self.district_code,
            "district_name": self.district_name,
            "rule_id": self.rule_id,
            "year": self.year,
            "severity": self.severity,
            "state": self.state,
            "source": self.source,
            "summary": self.summary,
            "description": self.description,
            "clause": self.clause,
            "fix": self.fix,
            "reason": self.reason,
            "extra_labels": dict(self.extra_labels),
            "extra_annotations": dict(self.extra_annotations),
            "starts_at": rfc3339(self.starts_at),
            "ends_at": rfc3339(self.ends_at),
            "last_seen_at": rfc3339(self.last_seen_at),
            "fell_behind_at": rfc3339(self.fell_behind_at),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        alert = cls(
            alertname=d["alertname"],
            district_code=d.get("district_code"),
            rule_id=d["rule_id"],
            year=d.get("year"),
            severity=d["severity"],
            summary=d.get("summary", ""),
            description=d.get("description", ""),
            clause=d.get("clause", ""),
            fix=d.get("fix", ""),
            reason=d.get("reason", ""),
            district_name=d.get("district_name"),
            source=d.get("source", MARTS),
            extra_labels=dict(d.get("extra_labels") or {}),
            extra_annotations=dict(d.get("extra_annotations") or {}),
            state=d.get("state", FIRING),
            starts_at=parse_time(d.get("starts_at")),
            ends_at=parse_time(d.get("ends_at")),
            last_seen_at=parse_time(d.get("last_seen_at")),
            fell_behind_at=parse_time(d.get("fell_behind_at")),
        )
        if d.get("alert_id") and d["alert_id"] != alert.alert_id:
            raise ValueError(f"alert_id {d['alert_id']} does not match its labels ({alert.alert_id})")
        return alert


def event_id(alert_id: str, state: str, starts_at: dt.datetime | None) -> str:
    """Id of one state change of an alert (the grain of mart_alerts): a firing episode is
    (alert, firing, starts_at), its end (alert, resolved, starts_at)."""
    return hashlib.sha256(f"{alert_id}|{state}|{rfc3339(starts_at)}".encode()).hexdigest()[:32]


def alert_event(
    alert: Alert, *, evaluated_at: dt.datetime, run_id: str, as_of: dt.date | None, generator_url: str | None = None
) -> dict[str, Any]:
    """A state change as one JSON-able object: the history row, the webhook item and the Kafka
    message value. Field names follow Alertmanager's webhook items (status, labels, annotations,
    startsAt, endsAt, generatorURL, fingerprint) plus Junheng's own columns."""
    return {
        "event_id": event_id(alert.alert_id, alert.state, alert.starts_at),
        "alert_id": alert.alert_id,
        "fingerprint": alert.alert_id,
        "status": alert.state,
        "alertname": alert.alertname,
        "district_code": alert.district_code,
        "district_name": alert.district_name,
        "scope": alert.scope,
        "rule_id": alert.rule_id,
        "year": alert.year,
        "severity": alert.severity,
        "source": alert.source,
        "summary": alert.summary,
        "description": alert.description,
        "clause": alert.clause,
        "fix": alert.fix,
        "reason": alert.reason,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(alert.ends_at),
        "fell_behind_at": rfc3339(alert.fell_behind_at),
        "generatorURL": generator_url or "",
        "evaluated_at": rfc3339(evaluated_at),
        "as_of": as_of.isoformat() if as_of else None,
        "run_id": run_id,
    }
