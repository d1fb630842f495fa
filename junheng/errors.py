"""The one kind of error a command reports without a traceback.

A :class:`UserError` is a mistake the user can fix (a missing file, a bad date, a busy or missing
warehouse, an unreadable report): its message is one line naming what is wrong and what to do, and
the command exits with :attr:`UserError.exit_code` (2) before it applied or landed anything. Any
other exception is a bug: ``junheng`` reports it in one line too and exits 70, and ``--debug``
shows its traceback. Part of the configuration layer: it imports nothing of the project.
"""

from __future__ import annotations

__all__ = ["EXIT_ALERTS_UNDELIVERED", "EXIT_DEAD_LETTERED", "EXIT_FAILED", "EXIT_INTERNAL", "EXIT_USER", "UserError"]

EXIT_FAILED = 1  # the command ran and failed: the build, the counts' balance
EXIT_USER = 2  # as argparse does for a bad option
EXIT_DEAD_LETTERED = 3  # ran, but records were dead-lettered (`run --strict`, `dlq replay`)
EXIT_ALERTS_UNDELIVERED = 4  # ran and built, but an alert source or delivery failed
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, not the user's input


class UserError(RuntimeError):
    """Something the user can fix; ``str()`` is one line for stderr."""

    exit_code = EXIT_USER
