"""Per-event contract check shared by every path: Faust stream, embedded driver, producer.

One function decides whether an event may be applied::

    verdict = check_event(raw_bytes)
    if verdict.ok:
        apply(verdict.event)
    else:
        dead_letter(raw_bytes, verdict.reason, origin)

Checks run cheapest first and stop at the first failure, so a flood of garbage costs little:

1. size      ``len(raw) <= MAX_EVENT_BYTES`` (before parsing, so a huge message is never parsed)
2. JSON      strict UTF-8, RFC 8259 JSON (no NaN/Infinity), top level an object
3. version   ``schema_version`` picks the schema set (``schemas/vN``); an unknown one is rejected
4. envelope  JSON Schema of the envelope, including formats and the school_id rule
5. payload   JSON Schema of the payload for ``event_type``
6. sanity    impossible values the schema cannot express (:mod:`ingestion.contract.sanity`)
7. upcast    an accepted event of a version other than 1 is turned into version 1's shape
             (:mod:`ingestion.contract.upcast`), so everything downstream reads one shape
8. plausible values within the contract's bounds that no real school reports (a budget of
             10^30 yuan): ``implausible_value``, bounds as data (:mod:`ingestion.contract.plausibility`)

``reason`` is ``"<code>: <message>"``; the code (also :attr:`Verdict.code`) is one of
:data:`REASON_CODES` and is what dead-letter counters should group by. The message names the JSON
path, e.g. ``"schema: payload.sections.primary.students: -3 is less than the minimum of 0"``.

Not checked here, because they need state: unknown district or school, duplicates (event_id) and
stale versions (seq) — see :func:`fact_key` for the key those use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastjsonschema import JsonSchemaValueException
from jsonschema.exceptions import ValidationError, best_match, relevance
from jsonschema.protocols import Validator

from ingestion.contract.plausibility import compile_checks, load_bounds
from ingestion.contract.registry import SchemaSet, load_schema_sets
from ingestion.contract.sanity import CHECKS, Check, scan_values
from ingestion.contract.upcast import UPCASTERS, Upcaster

__all__ = [
    "BASE_SCHEMA_VERSION",
    "MAX_EVENT_BYTES",
    "SUPPORTED_SCHEMA_VERSIONS",
    "KNOWN_EVENT_TYPES",
    "REASON_CODES",
    "NOT_JSON",
    "OVERSIZED",
    "NOT_OBJECT",
    "UNSUPPORTED_SCHEMA_VERSION",
    "SCHEMA",
    "IMPOSSIBLE_VALUE",
    "IMPLAUSIBLE_VALUE",
    "Verdict",
    "check_event",
    "check_event_dict",
    "decode_accepted",
    "fact_key",
]

#: Largest accepted serialized event, in bytes. A real event is well under 4 KiB (the largest is a
#: school.enrolment with one class size per class); 64 KiB leaves room for big schools and still
#: bounds the work one message can cause. Independent of schema_version because it is checked
#: before the version is known.
MAX_EVENT_BYTES: int = 64 * 1024

# Reason codes: the part of Verdict.reason before the first colon.
NOT_JSON = "not_json"  #: not UTF-8, not JSON (incl. NaN/Infinity, trailing data), or no value at all
OVERSIZED = "oversized"  #: more than MAX_EVENT_BYTES bytes
NOT_OBJECT = "not_object"  #: valid JSON whose top level is not an object
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"  #: integer schema_version with no schemas/vN
SCHEMA = "schema"  #: breaks the envelope or payload JSON Schema (types, ranges, enums, formats, ...)
IMPOSSIBLE_VALUE = "impossible_value"  #: schema-valid but impossible (sanity checks, inf, bad Unicode)

IMPLAUSIBLE_VALUE = "implausible_value"  #: within the contract's bounds but beyond plausibility.yaml's

REASON_CODES: frozenset[str] = frozenset(
    {NOT_JSON, OVERSIZED, NOT_OBJECT, UNSUPPORTED_SCHEMA_VERSION, SCHEMA, IMPOSSIBLE_VALUE, IMPLAUSIBLE_VALUE}
)

_MAX_MESSAGE = 300  # reasons go into dead-letter records and logs; the original bytes are kept there


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of a contract check.

    ``ok`` with the parsed ``event`` (the very dict that was checked, not a copy), or not ``ok``
    with ``reason`` = ``"<code>: <message>"``. Frozen so a verdict can be passed along (to the
    dead-letter writer, to metrics) without anyone editing it on the way.
    """

    ok: bool
    event: dict[str, Any] | None
    reason: str | None

    @property
    def code(self) -> str | None:
        """The reason code alone (one of REASON_CODES), or None for an accepted event."""
        return None if self.reason is None else self.reason.split(":", 1)[0]


# --- schema sets, loaded once at import --------------------------------------------------------

_SETS: dict[int, SchemaSet] = load_schema_sets()

#: The shape every accepted event is given (verdict.event): the engine reads only this version.
BASE_SCHEMA_VERSION: int = 1

for _version, _set in _SETS.items():  # fail at import, not on the first event of a new version
    if _version not in CHECKS or set(CHECKS[_version]) != _set.event_types:
        raise RuntimeError(f"schema_version {_version}: sanity.CHECKS must register exactly its event types")
    if _version != BASE_SCHEMA_VERSION and _version not in UPCASTERS:
        raise RuntimeError(f"schema_version {_version}: upcast.UPCASTERS has no upcaster for it")

#: event_type -> the plausibility check of its payload (version 1's shape), from plausibility.yaml
_PLAUSIBLE = compile_checks(load_bounds(payload_schemas=_SETS[BASE_SCHEMA_VERSION].payloads))

#: The schema versions this build reads, ascending.
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = tuple(_SETS)
#: Every event type of any supported version.
KNOWN_EVENT_TYPES: frozenset[str] = frozenset().union(*(s.event_types for s in _SETS.values()))

# (fast payload validator, reference validator, sanity check, upcaster or None) per
# (version, event_type): one dict lookup on the hot path instead of four, and version 1 pays
# nothing for the existence of others (its upcaster is None).
_PAYLOAD: dict[tuple[int, str], tuple[Callable[[Any], Any], Validator, Check, Upcaster | None]] = {
    (v, t): (s.fast_payloads[t], s.ref_payloads[t], CHECKS[v][t], UPCASTERS.get(v))
    for v, s in _SETS.items()
    for t in s.event_types
}


# --- public API ---------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads(..., parse_constant=...) would build a new decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def check_event(raw: bytes | bytearray | memoryview | str | None) -> Verdict:
    """Check one serialized event (a Kafka message value, a JSONL line) against the contract.

    Never raises for any bytes: every input gets a Verdict. ``None`` (a Kafka tombstone) is
    ``not_json``; a ``str`` is taken as its UTF-8 encoding. The byte limit applies to the raw
    input, before anything is parsed.
    """
    if raw is None:
        return _reject(NOT_JSON, "message has no value")
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            return _reject(NOT_JSON, f"not valid UTF-8: {exc.reason}")
    elif isinstance(raw, memoryview):
        raw = raw.tobytes()
    size = len(raw)
    if size > MAX_EVENT_BYTES:
        return _reject(OVERSIZED, f"{size} bytes exceeds the limit of {MAX_EVENT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")  # RFC 8259: UTF-8 only (json.loads would also guess UTF-16/32)
    except UnicodeDecodeError as exc:
        return _reject(NOT_JSON, f"not valid UTF-8 at byte {exc.start}: {exc.reason}")
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return _reject(NOT_JSON, f"{exc.msg} at line {exc.lineno} column {exc.colno}")
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, >4300-digit integers, deep nesting
        return _reject(NOT_JSON, str(exc) or type(exc).__name__)
    if type(obj) is not dict:
        return _reject(NOT_OBJECT, f"top level is {_json_type(obj)}, not an object")
    return _check(obj)


def check_event_dict(event: Any) -> Verdict:
    """Check an event that is already parsed (the embedded driver, tests, a producer's own dicts).

    Same checks as :func:`check_event` minus size and JSON syntax. The dict is never modified. On
    success, a version 1 event is returned as is (``verdict.event is event``); an event of another
    version is returned upcast to version 1's shape (a new dict, see :mod:`ingestion.contract.upcast`).
    """
    if not isinstance(event, dict):
        return _reject(NOT_OBJECT, f"event is {_json_type(event)}, not an object")
    return _check(event)


# One definition of fact identity for the whole platform: the rules engine's, re-exported here
# because the contract is where a reader looks for what makes two events versions of one fact.
from rules.facts import fact_key  # noqa: E402


def _check(obj: dict[str, Any]) -> Verdict:
    version = obj.get("schema_version")
    if type(version) is not int:  # not isinstance: True would otherwise select version 1
        # Missing or not an integer: the version picks the schemas, so it is what to report (no
        # version's envelope can say more, and they disagree on the other fields).
        if "schema_version" not in obj:
            return _reject(SCHEMA, "schema_version: is required")
        return _reject(SCHEMA, f"schema_version: {_json_repr(version)} is not of type integer")
    schema_set = _SETS.get(version)
    if schema_set is None:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        return _reject(
            UNSUPPORTED_SCHEMA_VERSION,
            f"unsupported schema_version {version} (this build reads {supported})",
        )

    try:
        schema_set.fast_envelope(obj)
    except JsonSchemaValueException as exc:
        return _schema_failure(schema_set.ref_envelope, obj, "", _fast_message(exc, ""))

    payload = obj["payload"]
    fast, ref, sanity, upcast = _PAYLOAD[version, obj["event_type"]]
    try:
        fast(payload)
    except JsonSchemaValueException as exc:
        return _schema_failure(ref, payload, "payload", _fast_message(exc, "payload"))

    problem = scan_values(payload, "payload") or scan_values(obj["source"], "source") or sanity(obj)
    if problem is not None:
        return _reject(IMPOSSIBLE_VALUE, problem)
    event = _in_base_shape(obj, version, upcast)
    plausible = _PLAUSIBLE.get(event["event_type"])
    if plausible is not None:
        problem = plausible(event["payload"])
        if problem is not None:
            return _reject(IMPLAUSIBLE_VALUE, problem)
    return Verdict(True, event, None)


def _in_base_shape(obj: dict[str, Any], version: int, upcast: Upcaster | None) -> dict[str, Any]:
    """An accepted event in version 1's shape, the producer's version kept (step 7)."""
    if upcast is None:
        return obj
    obj = upcast(obj)
    obj["schema_version"] = version
    return obj


def decode_accepted(raw: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The event :func:`check_event` accepted from these very bytes (``verdict.event``), without
    checking them again: decoded by the same decoder and brought into version 1's shape.

    For a second process that receives messages one check already accepted (the GX child,
    expectations/process_validator.py): sending bytes costs the sender almost nothing, and
    skipping the schemas and sanity checks is most of what decoding them again would cost. Bytes
    that check_event rejects are the caller's bug; they may raise anything or decode to an event
    the contract does not allow.
    """
    obj = _DECODER.decode(bytes(raw).decode("utf-8"))
    version = obj["schema_version"]
    return _in_base_shape(obj, version, _PAYLOAD[version, obj["event_type"]][3])


def _reject(code: str, message: str) -> Verdict:
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return Verdict(False, None, f"{code}: {message}")


def _schema_failure(ref: Validator, instance: Any, prefix: str, fallback: str) -> Verdict:
    """Build the ``schema`` verdict after the fast validator rejected ``instance``.

    The reference validator finds all errors and we report the most relevant one, with its path.
    Should it find none (the two validators disagreeing; the tests guard against it), ``fallback``
    is used: the decision stays with the fast validator either way, so the outcome never depends on
    which validator produced the message.
    """
    errors = list(ref.iter_errors(instance))
    return _reject(SCHEMA, _describe(errors, prefix) if errors else fallback)


def _fast_message(exc: JsonSchemaValueException, prefix: str) -> str:
    """fastjsonschema's own message, with its ``data`` root renamed to our path prefix."""
    message = exc.message
    if message.startswith("data"):
        message = (prefix or "$") + message[4:]
    return message


def _is_conditional(error: ValidationError) -> bool:
    path = error.absolute_schema_path
    return "then" in path or "else" in path


def _describe(errors: list[ValidationError], prefix: str) -> str:
    # A conditional error (school_id rule) is a consequence when event_type itself is wrong, so
    # prefer the others.
    plain = [e for e in errors if not _is_conditional(e)] or errors
    top = max(plain, key=relevance)
    described = top.validator == "oneOf" or _is_conditional(top)
    if not described:
        top = best_match([top])  # descend into sub-errors where one is clearly the cause
    custom = top.schema.get("description") if described and isinstance(top.schema, dict) else None
    if custom:
        custom = custom[:1].lower() + custom[1:].rstrip(".")

    parts = list(top.absolute_path)
    message = custom or top.message
    if top.validator == "required" and isinstance(top.instance, dict):
        missing = [name for name in top.validator_value if name not in top.instance]
        if missing:
            parts.append(missing[0])
            message = custom or "is required"
    elif top.validator == "format" and top.validator_value in _FORMAT_HINTS:
        hint = _FORMAT_HINTS[top.validator_value]
        message = f"{_json_repr(top.instance)} is not a valid {top.validator_value} ({hint})"
    elif top.validator == "type":
        expected = top.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        message = custom or f"{_json_repr(top.instance)} is not of type {expected}"
    elif top.validator == "additionalProperties" and isinstance(top.instance, dict):
        known = top.schema.get("properties", {})
        unknown = [name for name in top.instance if name not in known]
        if unknown:
            parts.append(unknown[0])
            message = "is not an allowed property"
    return f"{_render_path(parts, prefix)}: {message}"


_FORMAT_HINTS = {
    "date": "expected YYYY-MM-DD, a real calendar day",
    "date-time": "expected RFC 3339 with offset, e.g. 2024-09-15T08:30:00+08:00",
}


def _json_repr(value: Any) -> str:
    """A value as it looked in the JSON (null, true, "2"), not as Python prints it (None, True)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _render_path(parts: list[Any], prefix: str) -> str:
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=True, default=repr)[:60]}]"
    return out or "$"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
