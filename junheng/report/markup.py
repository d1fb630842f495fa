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
    return Markup(html.escape("" if value is None else str(value), quote=True))


def _children(children: Iterable[Any]) -> Iterable[Markup]:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str):  # Markup is a str: esc() keeps it as it is
            yield esc(child)
        elif isinstance(child, (int, float)):
            yield esc(child)
        else:
            yield from _children(child)


def join(*children: Child) -> Markup:
    return Markup("".join(_children(children)))


VOID = frozenset({"br", "col", "hr", "img", "input", "link", "meta", "wbr"})


def _attr_name(name: str) -> str:
    name = name.rstrip("_")  # class_ → class, for_ → for
    return name.replace("_", "-")  # aria_label → aria-label, stroke_width → stroke-width


def el(tag: str, *children: Child, **attrs: object) -> Markup:
    """`<tag attrs>children</tag>`; attributes None/False are left out, True is written bare."""
    parts = [tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = _attr_name(key)
        if value is True:
            parts.append(name)
        else:
            parts.append(f'{name}="{esc(value)}"')
    start = "<" + " ".join(parts) + ">"
    if tag in VOID:
        return Markup(start)
    return Markup(start + "".join(_children(children)) + f"</{tag}>")


def num(x: float, digits: int = 1) -> str:
    """A coordinate for SVG: fixed decimals, no '-0.0'."""
    s = f"{x:.{digits}f}"
    return "0" if s.strip("-0.") == "" else s
