"""`junheng status`: where a warehouse and its processes stand, in one look.

    junheng status [--warehouse DIR] [--json] [--no-kafka] [--app-id ID]

It reads what the processes leave behind -- ``worker-counts.json`` (the worker), ``serve.json``
(the builder), the published manifest (the last build), ``alerts/state.json`` (the alert book) --
and asks Kafka for the worker group's lag (streams/kafka_lag.py, as Kafka's own tools compute it).
When Kafka does not answer it says so instead of guessing. Nothing is written and no lock is taken,
so it can run at any time beside the worker and the builder. Exit 0 whatever it finds (it reports;
the metrics and /readyz are what alerting uses), 2 if there is no warehouse at all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from junheng import settings
from junheng.errors import UserError
from junheng.layout import WarehouseLayout

__all__ = ["add_arguments", "cmd_status", "collect"]

#: seconds a TCP connection to the broker may take before Kafka is reported unreachable
CONNECT_TIMEOUT_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--warehouse",
        default=str(settings.default_warehouse()),
        help="the warehouse to report on (default: $JUNHENG_WAREHOUSE or ./warehouse)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--no-kafka", action="store_true", help="do not ask Kafka for the consumer lag")
    parser.add_argument(
        "--app-id", help="the worker's Faust app id = consumer group (default: <JUNHENG_TOPIC_PREFIX>-worker)"
    )
    return parser


def cmd_status(args: argparse.Namespace) -> int:
    from junheng.terminal import json_line

    warehouse = Path(args.warehouse)
    if not warehouse.is_dir():
        raise UserError(f"no warehouse at {warehouse}: pass --warehouse DIR or set JUNHENG_WAREHOUSE")
    status = collect(warehouse, kafka=not args.no_kafka, app_id=args.app_id)
    print(json_line(status) if args.json else text(status))
    return 0


# ---------------------------------------------------------------------- what is known
def collect(warehouse: Path, *, kafka: bool = True, app_id: str | None = None) -> dict[str, Any]:
    """Everything `junheng status` reports, as a JSON-able document."""
    from junheng import __version__

    layout = WarehouseLayout(warehouse)
    now = time.time()
    configured = settings.settings()
    return {
        "version": __version__,
        "warehouse": str(warehouse.resolve()),
        "catalogue": configured.catalogue,
        "engine": _engine(configured.engine),
        "worker": _worker(layout, now),
        "kafka": _kafka(app_id) if kafka else {"checked": False},
        "build": _build(layout, now),
        "alerts": _alerts(layout),
    }


def _engine(mode: str) -> dict[str, Any]:
    """Which rules engine a process started now would run (junheng/compiled_engine.py decides the same way)."""
    from junheng.compiled_engine import build_state

    usable, why = build_state()
    kind = "pure" if mode == "pure" or not usable else "compiled"
    detail = "JUNHENG_ENGINE=pure" if mode == "pure" else ("fresh mypyc build" if usable else why)
    return {"setting": mode, "kind": kind, "detail": detail}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker(layout: WarehouseLayout, now: float) -> dict[str, Any] | None:
    counts = _read_json(layout.worker_counts)
    if counts is None:
        return None
    last = counts.get("last_batch_done_at")
    running = counts.get("status") in ("starting", "running") and _pid_alive(counts.get("pid"))
    return {
        "status": counts.get("status") if running or counts.get("status") in ("stopped", "crashed") else "gone",
        "pid": counts.get("pid"),
        "updated_at": counts.get("updated_at"),
        "last_batch_at": _iso(last) if isinstance(last, (int, float)) else None,
        "last_batch_age_s": round(now - last, 1) if isinstance(last, (int, float)) else None,
        "batches": counts.get("batches"),
        **{k: counts.get(k) for k in ("read", "applied", "duplicate", "stale", "dead_lettered")},
        "dead_letter_reasons": counts.get("dead_letter_reasons") or {},
        "assigned": counts.get("assigned") or [],
    }


def _kafka(app_id: str | None) -> dict[str, Any]:
    from junheng.settings import KafkaSettings
    from streams.kafka_config import default_app_id

    kafka = KafkaSettings()
    group = app_id or default_app_id(kafka)
    topic = kafka.topic("events")
    out: dict[str, Any] = {"checked": True, "bootstrap": kafka.bootstrap_servers, "group": group, "topic": topic}
    unreachable = _unreachable(kafka.bootstrap_servers)
    if unreachable:
        return {**out, "reachable": False, "error": unreachable}
    from ingestion.kafka_access import redact
    from streams.kafka_lag import group_lag

    try:
        lags = group_lag(kafka, group, topic)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, no rights: say it, do not guess
        return {**out, "reachable": False, "error": f"{type(exc).__name__}: {redact(str(exc), kafka)}"}
    if lags is None:
        return {**out, "reachable": True, "error": f"the events topic {topic} does not exist"}
    return {
        **out,
        "reachable": True,
        "lag": sum(p.lag for p in lags),
        "partitions": {str(p.partition): {"lag": p.lag, "end": p.end, "committed": p.committed} for p in lags},
    }


def _unreachable(bootstrap: str) -> str | None:
    """None when a bootstrap server accepts a TCP connection, else why not (quickly: no client retries)."""
    errors = []
    for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
                return None
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {getattr(exc, 'strerror', None) or exc}")
    return f"Kafka is not reachable ({'; '.join(errors) or 'no bootstrap server'}), so the lag is unknown"


def _build(layout: WarehouseLayout, now: float) -> dict[str, Any]:
    from junheng.build.publish import current_manifest

    manifest = current_manifest(layout)
    published = None
    if manifest is not None:
        built_at = manifest.get("built_at")
        try:
            age = round(now - dt.datetime.fromisoformat(built_at).timestamp(), 1) if built_at else None
        except (TypeError, ValueError):
            age = None
        published = {
            "version": manifest.get("version"),
            "built_at": built_at,
            "age_s": age,
            "as_of": manifest.get("as_of"),
            "catalogue": manifest.get("catalogue"),
        }
    serve = _read_json(layout.serve_status)
    builder = None
    if serve is not None:
        alive = _pid_alive(serve.get("pid")) and serve.get("state") != "stopped"
        builder = {
            "state": serve.get("state") if alive else "not running",
            "last_build": serve.get("last_build"),
            "builds": serve.get("builds"),
        }
    return {"published": published, "builder": builder}


def _alerts(layout: WarehouseLayout) -> dict[str, Any]:
    from junheng.alerting.book import load_book

    if not layout.alert_book.is_file():
        return {"evaluated": False, "firing": 0, "open": []}
    try:
        firing = load_book(layout.alert_book).firing()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"evaluated": True, "error": f"cannot read {layout.alert_book}: {exc}", "firing": None, "open": []}
    return {
        "evaluated": True,
        "firing": len(firing),
        "open": [
            {
                "alertname": a.alertname,
                "severity": a.severity,
                "district_code": a.district_code,
                "year": a.year,
                # when the district fell behind (the event time; docs/alerts.md), else when it fired
                "since": _moment(a.fell_behind_at or a.starts_at),
                "fired_at": _moment(a.starts_at),
                "summary": a.summary,
            }
            for a in firing
        ],
    }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- in words
def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown age"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def text(s: dict[str, Any]) -> str:
    """The status in lines a person reads (the JSON has the same facts)."""
    from junheng.terminal import plain

    e = s["engine"]
    lines = [
        f"junheng {s['version']} · catalogue {s['catalogue']} · engine {e['kind']} ({e['detail']})",
        f"warehouse  {s['warehouse']}",
    ]
    w = s["worker"]
    if w is None:
        lines.append("worker     no worker has run on this warehouse (no worker-counts.json)")
    else:
        batch = (
            f"last batch {_age(w['last_batch_age_s'])} ({w['last_batch_at']})" if w["last_batch_at"] else "no batch yet"
        )
        lines.append(
            f"worker     {w['status']} (pid {w['pid']}), {batch}; read {w['read']} = applied {w['applied']} + "
            f"duplicate {w['duplicate']} + stale {w['stale']} + dead-lettered {w['dead_lettered']}"
        )
    k = s["kafka"]
    if not k["checked"]:
        lines.append("lag        not checked (--no-kafka)")
    elif "lag" in k:
        lines.append(
            f"lag        {k['lag']} events behind on {len(k['partitions'])} partitions "
            f"(group {k['group']}, topic {k['topic']})"
        )
    else:
        lines.append(f"lag        unknown: {k['error']}")
    b = s["build"]
    p = b["published"]
    lines.append(
        f"build      version {p['version']} built {_age(p['age_s'])} ({p['built_at']}), as of {p['as_of']}"
        if p
        else "build      nothing published yet (junheng build, or junheng serve beside the worker)"
    )
    if b["builder"] is not None:
        last = b["builder"]["last_build"] or {}
        outcome = (
            "none yet"
            if not last
            else "ok"
            if last.get("ok")
            else ("abandoned" if last.get("abandoned") else f"FAILED at {last.get('stage')}: {last.get('error')}")
        )
        lines.append(f"builder    {b['builder']['state']}; last build {outcome}")
    a = s["alerts"]
    if not a["evaluated"]:
        lines.append("alerts     never evaluated")
    elif a.get("error"):
        lines.append(f"alerts     {a['error']}")
    else:
        lines.append(f"alerts     {a['firing']} firing")
        lines += [
            f"           {x['severity']:8} {x['alertname']} {x['district_code'] or 'city'} {x['year'] or ''}: {x['summary']}"
            for x in a["open"][:20]
        ]
        if len(a["open"]) > 20:
            lines.append(f"           … and {len(a['open']) - 20} more (--json lists all)")
    return "\n".join(plain(line) for line in lines)


def _moment(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None
