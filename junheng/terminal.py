r"""Text from data, made safe to show on a terminal.

District names, file paths, alert summaries and error messages come from data a user or another
system wrote (the districts CSV, event files, the marts). Printed raw, an ESC or OSC sequence in one
can recolour, clear or retitle the reader's terminal, or hide what follows, and a ``[/]`` in one
is rich markup that makes rich raise ``MarkupError`` in the middle of the output. So every such
value goes through :func:`plain` before ``print`` and through :func:`markup` before rich. An ESC
(0x1b) in a name is shown as the four characters ``\x1b``; ``[/]`` is shown as ``[/]``.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["json_line", "markup", "plain"]

#: C0 controls (ESC, BEL, CR, LF, TAB, ...), DEL, C1 controls (CSI 0x9b, OSC 0x9d, ...), and the
#: bidirectional marks, embeddings, overrides and isolates that reorder what a reader sees.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def plain(value: object, *, lines: bool = False) -> str:
    r"""``value`` as one line of inert text: every control character written as its escape
    (``\x1b``, ``\x07``, ``\x0a``, ``\u202e``), so nothing in it acts on the terminal and a reader
    still sees that it was there. ``None`` is the empty string. ``lines=True`` keeps the line
    breaks of a multi-line message (a build failure quoting the marts' values) and escapes the rest."""
    text = "" if value is None else str(value)
    if lines:
        return "\n".join(_CONTROLS.sub(_visible, line) for line in text.split("\n"))
    return _CONTROLS.sub(_visible, text)


#: What json.dumps(ensure_ascii=False) leaves raw although a terminal may act on it (it escapes C0).
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_line(document: Any) -> str:
    r"""``document`` as one line of JSON for ``--json`` output: Chinese stays readable (not
    ``\u`` escapes), but DEL, the C1 controls and the bidirectional controls are written as
    ``\u`` escapes too, like the C0 ones, so the same data reaches a parser and nothing acts on a
    terminal showing it."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(document, ensure_ascii=False))


def markup(value: object) -> str:
    """:func:`plain`, then rich's markup escape: for text inside a string rich parses as markup
    (``console.print``, table cells), so ``[/]`` or ``[red]`` in a name is printed as written."""
    from rich.markup import escape

    return escape(plain(value))
