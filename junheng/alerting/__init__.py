"""Alerting: districts (and the city) falling behind the standard and the city plan.

- :mod:`~junheng.alerting.model` — :class:`Alert`, its stable fingerprint (``alert_id``), alert names
- :mod:`~junheng.alerting.sources` — conditions from the marts (DuckDB) and from district status rows
- :mod:`~junheng.alerting.book` — :class:`AlertBook`, the state machine (fired / repeated / resolved)
- :mod:`~junheng.alerting.history` — alert events as landing Parquet for ``mart_alerts``
- :mod:`~junheng.alerting.delivery` — Alertmanager v2, JSON webhook, Kafka ``alerts`` topic
- :mod:`~junheng.alerting.run` — :func:`evaluate_and_send` (``junheng alerts``) and :class:`StreamAlerter`
- :mod:`~junheng.alerting.cli` — the command line (``junheng alerts``, ``python -m junheng.alerting``)

See docs/alerts.md. The names below are imported on first use, so ``import junheng.alerting.cli``
(the CLI's parser) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ALERT_NAMES": "model",
    "FIRING": "model",
    "RESOLVED": "model",
    "Alert": "model",
    "fingerprint": "model",
    "AlertBook": "book",
    "Changes": "book",
    "load_book": "book",
    "save_book": "book",
    "state_path": "book",
    "AlertConfig": "run",
    "AlertRun": "run",
    "StreamAlerter": "run",
    "evaluate_and_send": "run",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'junheng.alerting' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"junheng.alerting.{module}"), name)
    globals()[name] = value
    return value
