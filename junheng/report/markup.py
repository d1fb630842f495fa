"""A tiny HTML/SVG element builder that escapes everything it is not told is markup.

Every text and every attribute value goes through `html.escape(quote=True)` unless it is already a
`Markup` (the output of `el`, `join` or `raw`), so district names, rule ids and alert summaries from the
warehouse can never open a tag or break out of an attribute.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

__all__ = ["Markup", "el", "esc", "join", "raw", "num"]


class Markup(str):
    """A string that is already safe HTML."""

    __slots__ = ()


Child = object  # Markup, str, int, float, None, or an iterable of these


def raw(text: str) -> Markup:
    """Trust `text` as markup (only for the package's own assets and built fragments)."""
    return Markup(text)


def esc(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    text = "" if value is None else value if isinstance(value, str) else str(value)
    # html.escape's five replacements only when one of its characters is there: most texts of a
    # page of thousands of districts (numbers, codes, names) have none, and the report spent a
    # fifth of its time escaping them
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        text = html.escape(text, quote=True)
    return Markup(text)


def _flatten(children: Iterable[Any], out: list[str]) -> None:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, Markup):
            out.append(child)
        elif isinstance(child, (str, int, float)):
            out.append(esc(child))
        else:
            _flatten(child, out)


def join(*children: Child) -> Markup:
    out: list[str] = []
    _flatten(children, out)
    return Markup("".join(out))


VOID = frozenset({"br", "col", "hr", "img", "input", "link", "meta", "wbr"})
_ATTR_NAMES: dict[str, str] = {}


def _attr_name(name: str) -> str:
    found = _ATTR_NAMES.get(name)
    if found is None:
        # class_ → class, for_ → for; aria_label → aria-label, stroke_width → stroke-width
        found = _ATTR_NAMES[name] = name.rstrip("_").replace("_", "-")
    return found


def el(tag: str, *children: Child, **attrs: object) -> Markup:
    """`<tag attrs>children</tag>`; attributes None/False are left out, True is written bare."""
    parts = ["<", tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts += (" ", _attr_name(key))
        else:
            parts += (" ", _attr_name(key), '="', esc(value), '"')
    parts.append(">")
    if tag in VOID:
        return Markup("".join(parts))
    _flatten(children, parts)
    parts += ("</", tag, ">")
    return Markup("".join(parts))


def num(x: float, digits: int = 1) -> str:
    """A coordinate for SVG: fixed decimals, no '-0.0'."""
    s = f"{x:.{digits}f}"
    return "0" if s.strip("-0.") == "" else s
