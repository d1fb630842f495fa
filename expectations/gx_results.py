"""Reading GX validation results, shared by the event validator and the marts checkpoint
(kept free of GX imports so that importing it costs nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def raised_message(info: Any) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any.

    ``exception_info`` is ``{"raised_exception": bool, "exception_message": ...}`` for the
    expectation itself, or a dict of such dicts keyed by metric when a metric failed.
    """
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "an exception")
    for value in info.values():
        if isinstance(value, Mapping):
            message = raised_message(value)
            if message is not None:
                return message
    return None
