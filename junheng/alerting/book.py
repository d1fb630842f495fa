"""AlertBook: the alerting state machine, pure and serialisable.

Given the set of conditions that are true at one evaluation, :meth:`AlertBook.evaluate` says what
changed since the last one:

- **fired**: true now, not firing before (new, or firing again after it was resolved: a new
  episode with a new ``starts_at``);
- **repeated**: true now and already firing: not a change, so not emitted again (no history row,
  no webhook or Kafka message); only refreshed — its wording, severity and ``last_seen_at`` are
  updated and Alertmanager gets it re-posted so it does not time out;
- **resolved**: firing before, not true now → ``state = resolved``, ``ends_at = now``.

Only alerts the evaluation *covers* can be resolved: a source that could not be read (no DuckDB
file yet, the file locked by a running ``dbt build``) covers nothing, so its alerts stay as they
were rather than being resolved by a missing input.

The book also keeps two small things the evaluator needs between runs: ``memory`` (per-source
state, e.g. the last decided attainment of each district-year for the stream source) and
``outbox`` (state changes not yet delivered to a channel, retried by the next run). It is saved as
JSON at ``<warehouse>/alerts/state.json`` (:func:`save_book` writes atomically; :func:`book_lock`
serialises the CLI and the worker hook on one machine).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junheng.alerting.model import FIRING, RESOLVED, Alert, rfc3339
from junheng.layout import WarehouseLayout

STATE_VERSION = 1
#: resolved alerts are kept this long in the book (then forgotten; their history is in mart_alerts)
DEFAULT_RETENTION = dt.timedelta(days=7)
#: at most this many undelivered events are kept per channel; older ones are dropped (and counted)
MAX_OUTBOX = 1000

Covers = Callable[[Alert], bool]


def covers_all(alert: Alert) -> bool:
    return True


def covers_sources(*sources: str) -> Covers:
    """An evaluation that read these sources completely covers their alerts."""
    wanted = frozenset(sources)
    return lambda alert: alert.source in wanted


@dataclass
class Changes:
    """What one evaluation changed (snapshots of the alerts at that moment)."""

    fired: list[Alert] = field(default_factory=list)
    repeated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)

    @property
    def changed(self) -> list[Alert]:
        """The state changes: what is emitted (history, webhook, Kafka)."""
        return self.fired + self.resolved

    def counts(self) -> dict[str, int]:
        return {"fired": len(self.fired), "repeated": len(self.repeated), "resolved": len(self.resolved)}


class AlertBook:
    """Alerts by id (firing ones, and resolved ones for a retention period), source memory and
    per-channel outboxes. No I/O: :func:`load_book` / :func:`save_book` do that."""

    def __init__(
        self,
        alerts: Mapping[str, Alert] | None = None,
        memory: Mapping[str, Any] | None = None,
        outbox: Mapping[str, list[dict[str, Any]]] | None = None,
        dropped: Mapping[str, int] | None = None,
        updated_at: dt.datetime | None = None,
    ) -> None:
        self.alerts: dict[str, Alert] = dict(alerts or {})
        self.memory: dict[str, Any] = dict(memory or {})
        self.outbox: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in (outbox or {}).items()}
        self.dropped: dict[str, int] = dict(dropped or {})
        self.updated_at = updated_at

    # ------------------------------------------------------------------ queries
    def firing(self) -> list[Alert]:
        return sorted((a for a in self.alerts.values() if a.state == FIRING), key=_order)

    def get(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    def __len__(self) -> int:
        return len(self.alerts)

    # ------------------------------------------------------------------ the state machine
    def evaluate(self, current: Iterable[Alert], now: dt.datetime, *, covers: Covers = covers_all) -> Changes:
        """Apply one evaluation: `current` are the conditions true now (duplicates by id: the
        first wins); `covers` says which previously firing alerts this evaluation can resolve."""
        changes = Changes()
        seen: set[str] = set()
        for cond in current:
            aid = cond.alert_id
            if aid in seen:
                continue
            seen.add(aid)
            before = self.alerts.get(aid)
            if before is not None and before.state == FIRING:
                after = before.refreshed(cond, now)
                changes.repeated.append(after)
            else:
                after = cond.fired(now)
                changes.fired.append(after)
            self.alerts[aid] = after
        for aid, alert in list(self.alerts.items()):
            if alert.state == FIRING and aid not in seen and covers(alert):
                after = alert.resolved(now)
                self.alerts[aid] = after
                changes.resolved.append(after)
        for group in (changes.fired, changes.repeated, changes.resolved):
            group.sort(key=_order)
        self.updated_at = now
        return changes

    def prune(self, now: dt.datetime, retention: dt.timedelta = DEFAULT_RETENTION) -> int:
        """Forget alerts resolved more than `retention` ago; returns how many."""
        old = [
            aid
            for aid, a in self.alerts.items()
            if a.state == RESOLVED and a.ends_at is not None and now - a.ends_at > retention
        ]
        for aid in old:
            del self.alerts[aid]
        return len(old)

    # ------------------------------------------------------------------ outboxes
    def enqueue(self, channel: str, events: Iterable[dict[str, Any]]) -> int:
        """Queue events for a channel (no duplicates by event_id); returns how many were dropped
        because the outbox is full (the oldest go first)."""
        box = self.outbox.setdefault(channel, [])
        have = {e.get("event_id") for e in box}
        for e in events:
            if e.get("event_id") not in have:
                box.append(e)
                have.add(e.get("event_id"))
        over = max(0, len(box) - MAX_OUTBOX)
        if over:
            del box[:over]
            self.dropped[channel] = self.dropped.get(channel, 0) + over
        return over

    def pending(self, channel: str) -> list[dict[str, Any]]:
        return list(self.outbox.get(channel, []))

    def delivered(self, channel: str, event_ids: Iterable[str]) -> None:
        done = set(event_ids)
        box = [e for e in self.outbox.get(channel, []) if e.get("event_id") not in done]
        if box:
            self.outbox[channel] = box
        else:
            self.outbox.pop(channel, None)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "updated_at": rfc3339(self.updated_at),
            "alerts": {aid: a.to_dict() for aid, a in sorted(self.alerts.items())},
            "memory": self.memory,
            "outbox": self.outbox,
            "dropped": self.dropped,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlertBook:
        version = d.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"alert state version {version} is not {STATE_VERSION}")
        from junheng.alerting.model import parse_time

        alerts = {aid: Alert.from_dict(a) for aid, a in (d.get("alerts") or {}).items()}
        return cls(
            alerts,
            d.get("memory") or {},
            d.get("outbox") or {},
            d.get("dropped") or {},
            parse_time(d.get("updated_at")),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> AlertBook:
        return cls.from_dict(json.loads(text))


def _order(a: Alert) -> tuple[Any, ...]:
    return (a.district_code or "", a.year or 0, a.alertname, a.rule_id)


# ---------------------------------------------------------------------- files
def state_path(warehouse: str | Path) -> Path:
    return WarehouseLayout(warehouse).alert_book


def load_book(path: str | Path) -> AlertBook:
    p = Path(path)
    if not p.exists():
        return AlertBook()
    return AlertBook.from_json(p.read_text(encoding="utf-8"))


def save_book(book: AlertBook, path: str | Path) -> None:
    """Write atomically (temp file, fsync, rename): a reader never sees half a state."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(book.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, p)


class LockTimeout(TimeoutError):
    pass


@contextlib.contextmanager
def book_lock(path: str | Path, timeout_s: float = 60.0) -> Iterator[None]:
    """An exclusive advisory lock beside the state file (``state.json.lock``), so the CLI and the
    worker hook on one machine never interleave their read-modify-write of the book."""
    lock = Path(str(path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{lock} is held by another alert evaluation for over {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
