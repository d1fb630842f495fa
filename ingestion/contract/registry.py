"""Load the versioned JSON Schemas once and build both validators for each version.

Layout (package data, shipped by ``pyproject``'s ``contract/schemas/*/*.json``)::

    ingestion/contract/schemas/
        v1/envelope.schema.json          the envelope, with event_type's enum listing the types
        v1/<event_type>.schema.json      one payload schema per event type
        v2/...                           a later contract: add the directory, nothing else to wire

Every ``vN`` directory found is loaded; its envelope must pin ``schema_version`` to ``N`` and the
directory must hold exactly one payload schema per event type in the envelope's enum, so a typo in a
file name fails at import instead of silently never validating.

Two validators per schema, on purpose:

- **fast** — ``fastjsonschema`` compiles the schema to Python code. It decides accept/reject on the
  hot path: measured about 16x faster than ``jsonschema`` on these schemas, which is the difference
  between meeting the 20,000 events/s target and missing it by far.
- **reference** — ``jsonschema``'s ``Draft202012Validator``. Only consulted after the fast validator
  has rejected, to produce the best error message with its JSON path (bad events are rare, so its
  cost does not matter), and in the tests as the oracle the fast validator must agree with.

Both use the strict integer rule (``2024.0`` is not an integer; JSON Schema since draft 06 would
allow it) and the format functions of :mod:`ingestion.contract.formats`. Schemas are meta-validated
against draft 2020-12 at load, so a broken schema fails at import, not on the first event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import resources
from types import MappingProxyType
from typing import Any

from fastjsonschema.draft04 import CodeGeneratorDraft04
from fastjsonschema.ref_resolver import RefResolver
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.protocols import Validator

from ingestion.contract.formats import is_date, is_datetime

try:  # fastjsonschema >= 2.22 has a 2019-09 generator; it is what it uses for 2020-12 schemas
    from fastjsonschema.draft2019 import CodeGeneratorDraft2019 as _Generator
except ImportError:  # pragma: no cover - older fastjsonschema; our keywords are all draft-07 ones
    from fastjsonschema.draft07 import CodeGeneratorDraft07 as _Generator  # type: ignore[assignment]

__all__ = ["SchemaSet", "load_schema_sets", "FAST_FORMATS", "ReferenceValidator"]

_VERSION_DIR = re.compile(r"v([1-9][0-9]*)")

#: Format functions given to the compiled validators (replacing fastjsonschema's own regexes).
FAST_FORMATS: Mapping[str, Callable[[Any], bool]] = MappingProxyType({"date": is_date, "date-time": is_datetime})


def _is_strict_integer(_checker: Any, instance: Any) -> bool:
    """JSON integers only: no bool (a Python int subclass) and no integral floats like 2024.0.

    Same rule the fast validator is compiled with, so the two agree; keeps years and counts ``int`` so
    keys built from them are stable (``2024`` and ``2024.0`` hash alike but serialise differently).
    """
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_array(_checker: Any, instance: Any) -> bool:
    """Lists and tuples, as fastjsonschema accepts both (only matters for hand-built dicts)."""
    return isinstance(instance, (list, tuple))


#: Draft 2020-12 with the strict integer rule; used for messages and as the test oracle.
ReferenceValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer).redefine("array", _is_array),
)


class _StrictIntegerGenerator(_Generator):
    """fastjsonschema's code generator with draft-04's ``type`` check.

    Since draft 06 JSON Schema counts ``2024.0`` as an integer, and fastjsonschema follows it. The
    contract wants ints to stay ints (see :func:`_is_strict_integer`), and draft-04's type check is
    exactly that (``isinstance(x, int)`` and not bool); everything else is the newer generator.
    The contract tests assert the fast validator rejects ``2024.0``, so a fastjsonschema release
    that changes this internal hook fails the tests rather than production.
    """

    generate_type = CodeGeneratorDraft04.generate_type


def _compile_fast(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """Compile ``schema`` like ``fastjsonschema.compile`` does, but with the strict integer rule.

    Mirrors ``fastjsonschema.compile`` (resolver, generator, exec of the generated source), which
    offers no hook for replacing one keyword's generator. ``use_default=False``: the validator must
    never write default values into the event it checks.
    """
    formats = dict(FAST_FORMATS)
    resolver = RefResolver.from_schema(schema, handlers={}, store={})
    generator = _StrictIntegerGenerator(  # type: ignore[no-untyped-call]
        schema, resolver=resolver, formats=formats, use_default=False
    )
    namespace = generator.global_state
    exec(generator.func_code, namespace)  # noqa: S102 - code generated from our packaged schemas
    return partial(namespace[resolver.get_scope_name()], custom_formats=formats)


_FORMAT_CHECKER = FormatChecker(formats=())
_FORMAT_CHECKER.checks("date")(is_date)
_FORMAT_CHECKER.checks("date-time")(is_datetime)


@dataclass(frozen=True)
class SchemaSet:
    """Everything one schema_version needs: raw schemas and both validators for each of them."""

    version: int
    envelope: Mapping[str, Any]
    payloads: Mapping[str, Mapping[str, Any]]
    fast_envelope: Callable[[Any], Any]
    fast_payloads: Mapping[str, Callable[[Any], Any]]
    ref_envelope: Validator
    ref_payloads: Mapping[str, Validator]

    @property
    def event_types(self) -> frozenset[str]:
        """The event types this version defines (the envelope's event_type enum)."""
        return frozenset(self.payloads)


def _read_json(node: resources.abc.Traversable) -> dict[str, Any]:
    with node.open("rb") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{node.name}: a schema file must hold a JSON object")
    return data


def _build(schema: dict[str, Any]) -> tuple[Callable[[Any], Any], Validator]:
    ReferenceValidator.check_schema(schema)  # a broken schema must fail at import, not per event
    fast = _compile_fast(schema)
    ref = ReferenceValidator(schema, format_checker=_FORMAT_CHECKER)
    return fast, ref


def _load_version(version: int, directory: resources.abc.Traversable) -> SchemaSet:
    files = {node.name: node for node in directory.iterdir() if node.name.endswith(".schema.json")}
    if "envelope.schema.json" not in files:
        raise ValueError(f"schemas/v{version}: envelope.schema.json is missing")
    envelope = _read_json(files.pop("envelope.schema.json"))
    props = envelope.get("properties", {})
    pinned = props.get("schema_version", {}).get("const")
    if pinned != version or isinstance(pinned, bool):
        raise ValueError(f"schemas/v{version}: envelope must pin schema_version to const {version}")
    event_types = props.get("event_type", {}).get("enum")
    if not event_types:
        raise ValueError(f"schemas/v{version}: envelope must list event types in event_type.enum")

    payloads: dict[str, dict[str, Any]] = {}
    for event_type in event_types:
        name = f"{event_type}.schema.json"
        if name not in files:
            raise ValueError(f"schemas/v{version}: {name} is missing")
        payloads[event_type] = _read_json(files.pop(name))
    if files:
        raise ValueError(f"schemas/v{version}: schema files for no listed event type: {sorted(files)}")

    fast_envelope, ref_envelope = _build(envelope)
    fast_payloads: dict[str, Callable[[Any], Any]] = {}
    ref_payloads: dict[str, Validator] = {}
    for event_type, schema in payloads.items():
        fast_payloads[event_type], ref_payloads[event_type] = _build(schema)
    return SchemaSet(
        version=version,
        envelope=MappingProxyType(envelope),
        payloads=MappingProxyType(payloads),
        fast_envelope=fast_envelope,
        fast_payloads=MappingProxyType(fast_payloads),
        ref_envelope=ref_envelope,
        ref_payloads=MappingProxyType(ref_payloads),
    )


def load_schema_sets() -> dict[int, SchemaSet]:
    """Load every ``schemas/vN`` directory shipped with the package, keyed by N.

    Uses :mod:`importlib.resources` so it works from a source checkout, an installed wheel or a zip.
    Callers cache the result (see :mod:`ingestion.contract.validate`); this function re-reads.
    """
    root = resources.files("ingestion.contract").joinpath("schemas")
    sets: dict[int, SchemaSet] = {}
    for node in root.iterdir():
        m = _VERSION_DIR.fullmatch(node.name)
        if m and node.is_dir():
            sets[int(m[1])] = _load_version(int(m[1]), node)
    if not sets:
        raise RuntimeError("no schema versions found under ingestion/contract/schemas")
    return dict(sorted(sets.items()))
