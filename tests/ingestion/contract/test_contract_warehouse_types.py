"""The contract's bounds fit the warehouse's types (issue #14, item 2: "not aligned").

An accepted event must be storable by the landing (Arrow int32/int64 columns) and castable by
every dbt model that reads it (`cast(json_extract_string(payload, '$.x') as integer)`); a year
of 2**31 once passed the contract and made `dbt build` fail, and a seq of 10**30 crashed the
landing. These tests read the schemas, the landing's schemas and the dbt SQL, so a new cast or
a new field without a bound fails here rather than in production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingestion.contract.registry import load_schema_sets
from streams.landing import SCHEMAS

ROOT = Path(__file__).resolve().parents[3]
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1
EXACT_DOUBLE = 2**53  # a double holds every integer up to here: sums of money stay exact


def _fields(node: Any, name: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        types = node.get("type")
        types = set(types) if isinstance(types, list) else {types}
        if types & {"integer", "number"}:
            yield name, node
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    yield from _fields(sub, prop)
            elif key in ("items", "allOf", "oneOf", "anyOf", "then", "else", "if"):
                yield from _fields(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _fields(item, name)


def _all_numbers() -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    for version, schema_set in load_schema_sets().items():
        yield from ((version, "envelope", n, s) for n, s in _fields(schema_set.envelope))
        for event_type, payload in schema_set.payloads.items():
            for n, s in _fields(payload):
                yield version, event_type, n, s
            for defs in payload.get("$defs", {}).values():
                for n, s in _fields(defs):
                    yield version, event_type, n, s


def test_every_number_of_the_contract_has_a_bound_the_warehouse_can_hold() -> None:
    seen = 0
    for version, where, name, spec in _all_numbers():
        seen += 1
        assert "maximum" in spec, f"v{version} {where}.{name} has no maximum"
        if spec.get("type") == "integer" or "integer" in (spec.get("type") or []):
            limit = INT64_MAX if name == "seq" else INT32_MAX
            assert spec["maximum"] <= limit, f"v{version} {where}.{name}: {spec['maximum']} > {limit}"
        else:
            assert spec["maximum"] <= EXACT_DOUBLE, f"v{version} {where}.{name}: {spec['maximum']}"
    assert seen > 40


def test_the_landing_columns_hold_the_contract_maxima() -> None:
    envelope = load_schema_sets()[1].envelope["properties"]
    events = SCHEMAS["events"]
    for column, field in (("seq", "seq"), ("year", "year")):
        kind = events.field(column).type
        limit = INT64_MAX if kind == pa.int64() else INT32_MAX
        assert envelope[field]["maximum"] <= limit, (column, kind)


_CAST = re.compile(
    r"cast\(json_extract_string\([^)]*?'\$\.(?:[a-z_]+\.)*([a-z_]+)'\)\s+as\s+(integer|bigint)\)", re.IGNORECASE
)


def test_every_integer_cast_in_the_dbt_models_fits_the_contract() -> None:
    maxima: dict[str, int] = {}
    for _, _, name, spec in _all_numbers():
        maxima[name] = max(maxima.get(name, 0), spec.get("maximum", 2**200))
    casts = []
    for sql in (ROOT / "dbt_project" / "models").rglob("*.sql"):
        for field, kind in _CAST.findall(sql.read_text(encoding="utf-8")):
            casts.append((sql.name, field, kind.lower()))
            assert field in maxima, f"{sql.name} casts {field}, which the contract does not define"
            limit = INT32_MAX if kind.lower() == "integer" else INT64_MAX
            assert maxima[field] <= limit, f"{sql.name}: {field} may be {maxima[field]}, more than {kind} holds"
    assert {"opened_year", "closed_year", "declared_creation_year", "students"} <= {c[1] for c in casts}
