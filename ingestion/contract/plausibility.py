"""Plausibility: schema-valid values no real school reports, as data (plausibility.yaml).

The contract's maxima say what the warehouse can store; these bounds say what is believable. A
value outside them is dead-lettered ``implausible_value`` by :func:`ingestion.contract.check_event`
(step 8, after the upcast), so one absurd number can never move a verdict. The bounds file is
validated when loaded: an unknown event type, a path that names no number of the payload schema,
or ``min >= max`` is a :class:`PlausibilityError` naming the file and the entry, at import.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["BOUNDS_FILE", "Bound", "PlausibilityError", "load_bounds", "compile_checks"]

BOUNDS_FILE = Path(__file__).with_name("plausibility.yaml")
SUPPORTED_VERSIONS = (1,)
_NUMERIC = {"integer", "number"}


class PlausibilityError(ValueError):
    """The bounds file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Bound:
    event_type: str
    path: str  # as written, e.g. "payload.sections.*.students"
    segments: tuple[str, ...]  # path split on dots, without the leading "payload"
    min: float | None
    max: float | None
    unit: str

    def violation(self, value: Any, where: str) -> str | None:
        """``"<where>: <value> above the plausible maximum <max> <unit>"`` or None."""
        if type(value) not in (int, float):
            return None
        if self.max is not None and value > self.max:
            return f"{where}: {_num(value)} above the plausible maximum {_num(self.max)}{self._unit()}"
        if self.min is not None and value < self.min:
            return f"{where}: {_num(value)} below the plausible minimum {_num(self.min)}{self._unit()}"
        return None

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and abs(value) < 10**16 else f"{value:.4g}"


def load_bounds(
    path: Path = BOUNDS_FILE, payload_schemas: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Bound]:
    """The bounds of `path`, checked against the version 1 payload schemas."""
    if payload_schemas is None:
        from ingestion.contract.registry import load_schema_sets

        payload_schemas = load_schema_sets()[1].payloads
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PlausibilityError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") not in SUPPORTED_VERSIONS:
        raise PlausibilityError(f"{path}: needs 'version: 1' and 'bounds:'")
    bounds: list[Bound] = []
    for event_type, entries in (doc.get("bounds") or {}).items():
        schema = payload_schemas.get(event_type)
        if schema is None:
            raise PlausibilityError(f"{path}: bounds.{event_type}: not an event type of the contract")
        if not isinstance(entries, dict):
            raise PlausibilityError(f"{path}: bounds.{event_type}: expected a mapping of paths to bounds")
        for field_path, spec in entries.items():
            where = f"{path}: bounds.{event_type}.{field_path}"
            parts = str(field_path).split(".")
            if parts[0] != "payload" or len(parts) < 2:
                raise PlausibilityError(f"{where}: a path starts with 'payload.'")
            leaf = _resolve(schema, schema, parts[1:])
            if leaf is None:
                raise PlausibilityError(f"{where}: names no number of the {event_type} payload schema")
            if not isinstance(spec, dict) or not ({"min", "max"} & set(spec)) or set(spec) - {"min", "max", "unit"}:
                raise PlausibilityError(f"{where}: expected {{min: N, max: N, unit: text}} (min or max required)")
            lo, hi = spec.get("min"), spec.get("max")
            for name, v in (("min", lo), ("max", hi)):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                    raise PlausibilityError(f"{where}: {name} must be a finite number, not {v!r}")
            if lo is not None and hi is not None and lo >= hi:
                raise PlausibilityError(f"{where}: min {lo} is not below max {hi}")
            schema_max = leaf.get("maximum")
            if hi is not None and schema_max is not None and hi > schema_max:
                raise PlausibilityError(f"{where}: max {hi} is above the contract's maximum {schema_max}")
            bounds.append(Bound(event_type, str(field_path), tuple(parts[1:]), lo, hi, str(spec.get("unit", ""))))
    return bounds


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any], parts: list[str]) -> Mapping[str, Any] | None:
    """The schema of the number at `parts` below `node` (``$ref`` within the file followed; a
    compiled schema's refs carry the file's ``$id`` before the ``#``)."""
    ref = node.get("$ref")
    if isinstance(ref, str) and "#/" in ref:
        target: Any = root
        for key in ref.split("#/", 1)[1].split("/"):
            target = target.get(key, {}) if isinstance(target, Mapping) else {}
        return _resolve(root, target, parts)
    if not parts:
        types = node.get("type")
        types = set(types) if isinstance(types, list) else {types}
        return node if types & _NUMERIC else None
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node.get("items"), Mapping):
            return _resolve(root, node["items"], rest)
        props = node.get("properties") or {}
        found = [_resolve(root, p, rest) for p in props.values()]
        return next((f for f in found if f is not None), None) if found and all(found) else None
    props = node.get("properties") or {}
    return _resolve(root, props[head], rest) if head in props else None


Check = Callable[[Mapping[str, Any]], "str | None"]


def compile_checks(bounds: list[Bound]) -> dict[str, Check]:
    """event_type -> a function returning the first violation's message (or None) of a payload."""
    by_type: dict[str, list[Bound]] = {}
    for b in bounds:
        by_type.setdefault(b.event_type, []).append(b)
    return {t: _checker(tuple(bs)) for t, bs in by_type.items()}


class _Trie:
    """The bounds of one event type merged on their common path prefixes, so an event's payload
    is walked once (one pass over a staff event's sections checks all six counts)."""

    __slots__ = ("children", "leaves", "items")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.leaves: list[tuple[float, float, Bound]] = []
        self.items: tuple[tuple[str, _Trie], ...] = ()  # children, frozen by freeze()

    def freeze(self) -> _Trie:
        self.items = tuple(self.children.items())
        for child in self.children.values():
            child.freeze()
        return self

    def add(self, bound: Bound) -> None:
        node = self
        for segment in bound.segments:
            node = node.children.setdefault(segment, _Trie())
        node.leaves.append(
            (-math.inf if bound.min is None else bound.min, math.inf if bound.max is None else bound.max, bound)
        )


def _checker(bounds: tuple[Bound, ...]) -> Check:
    trie = _Trie()
    for b in bounds:
        trie.add(b)
    items = trie.freeze().items

    def check(payload: Mapping[str, Any]) -> str | None:
        found = _find(payload, items)
        if found is None:
            return None
        bound, trail = found  # rare: only now is the path put into words
        value = trail.pop(0)
        return bound.violation(value, "payload" + "".join(reversed(trail)))

    return check


_NUMBERS = (int, float)
_Found = tuple[Bound, list[Any]]


def _find(node: Any, items: tuple[tuple[str, _Trie], ...]) -> _Found | None:
    """(bound, ``[value, innermost path segment, ..., outermost]``) of the first number below
    `node` outside its bound, or None. Runs on every accepted event: comparisons, no strings."""
    if type(node) is not dict and type(node) is not list:
        return None
    for head, sub in items:
        if head == "*":
            pairs: Any = node.items() if type(node) is dict else enumerate(node)
            for key, child in pairs:
                found = _visit(child, sub)
                if found is not None:
                    found[1].append(f".{key}" if type(key) is str else f"[{key}]")
                    return found
        elif type(node) is dict:
            child = node.get(head)
            if child is not None:
                found = _visit(child, sub)
                if found is not None:
                    found[1].append(f".{head}")
                    return found
    return None


def _visit(node: Any, sub: _Trie) -> _Found | None:
    for lo, hi, bound in sub.leaves:
        if type(node) in _NUMBERS and not (lo <= node <= hi):
            return bound, [node]
    if sub.items:
        return _find(node, sub.items)
    return None
