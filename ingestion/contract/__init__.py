"""The event contract: versioned JSON Schemas and the per-event check every path shares.

Public API (see :mod:`ingestion.contract.validate` for details)::

    check_event(raw: bytes) -> Verdict           serialized event: size, JSON, schema, sanity
    check_event_dict(event: dict) -> Verdict     already parsed event: schema, sanity
    decode_accepted(raw: bytes) -> dict          what check_event accepted from raw, not re-checked
    (an accepted event of any supported version comes back in version 1's shape: upcast.py)
    fact_key(event: dict) -> tuple               versioning key for seq / supersession
    Verdict(ok, event, reason) (.code)           the outcome
    MAX_EVENT_BYTES, KNOWN_EVENT_TYPES, SUPPORTED_SCHEMA_VERSIONS, REASON_CODES and the codes

The schemas themselves are package data under ``schemas/v<N>/``; docs/events.md is the readable
reference.
"""

from ingestion.contract.validate import (
    BASE_SCHEMA_VERSION,
    IMPLAUSIBLE_VALUE,
    IMPOSSIBLE_VALUE,
    KNOWN_EVENT_TYPES,
    MAX_EVENT_BYTES,
    NOT_JSON,
    NOT_OBJECT,
    OVERSIZED,
    REASON_CODES,
    SCHEMA,
    SUPPORTED_SCHEMA_VERSIONS,
    UNSUPPORTED_SCHEMA_VERSION,
    Verdict,
    check_event,
    check_event_dict,
    decode_accepted,
    fact_key,
)

__all__ = [
    "BASE_SCHEMA_VERSION",
    "IMPOSSIBLE_VALUE",
    "IMPLAUSIBLE_VALUE",
    "KNOWN_EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "NOT_JSON",
    "NOT_OBJECT",
    "OVERSIZED",
    "REASON_CODES",
    "SCHEMA",
    "SUPPORTED_SCHEMA_VERSIONS",
    "UNSUPPORTED_SCHEMA_VERSION",
    "Verdict",
    "check_event",
    "check_event_dict",
    "decode_accepted",
    "fact_key",
]
