"""How a build fails: :class:`BuildError` and the kinds the user can fix (exit 2)."""
from __future__ import annotations

from typing import Any

from junheng.errors import UserError

__all__ = ["BuildCancelled", "BuildError", "BuildInputError", "DatabaseBusy"]


class BuildError(RuntimeError):
    """The build stopped. ``str(error)`` says at which stage, what failed and where to look;
    nothing was published (the marts readers open are the last good ones)."""

    def __init__(self, stage: str, message: str, *, log_tail: str | None = None, checkpoint: Any = None,
                 timings: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.log_tail = log_tail
        self.checkpoint = checkpoint
        self.timings = timings if timings is not None else {}


class BuildInputError(BuildError, UserError):
    """The build cannot start on what it was given (no landing, a path dbt cannot use): exit 2."""


class DatabaseBusy(BuildError, UserError):
    """Another process has the working database open, so dbt cannot write it. One line naming the
    process and what to do, instead of dbt's traceback (exit 2, as a busy warehouse)."""


class BuildCancelled(BuildError):
    """The build was abandoned on request (``junheng serve`` stopping): nothing was published."""
