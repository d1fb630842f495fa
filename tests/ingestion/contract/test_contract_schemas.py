"""The schema files themselves: well-formed, documented, loaded per version, ready for a v2."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingestion.contract import MAX_EVENT_BYTES, check_event_dict
from ingestion.contract.examples import example_event
from ingestion.contract.registry import _load_version, load_schema_sets

SCHEMA_DIR = Path(str(resources.files("ingestion.contract").joinpath("schemas")))
V1 = SCHEMA_DIR / "v1"
SCHEMA_FILES = sorted(V1.glob("*.schema.json"))


def test_eleven_schema_files() -> None:
    assert len(SCHEMA_FILES) == 11


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_file_is_draft_2020_12_with_id_title_description(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://junheng.example/schemas/events/v1/{path.name}"
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{path.name}: {name} has no description"


def test_size_limit_is_documented_next_to_the_schemas() -> None:
    assert str(MAX_EVENT_BYTES) in (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    envelope = json.loads((V1 / "envelope.schema.json").read_text(encoding="utf-8"))
    assert str(MAX_EVENT_BYTES) in envelope["description"]


def test_load_is_cached_per_version_and_reports_event_types() -> None:
    sets = load_schema_sets()
    assert list(sets) == [1, 2]
    assert sets[1].event_types == sets[2].event_types and len(sets[1].event_types) == 10


def test_fast_validator_keeps_integers_strict() -> None:
    # Guards _StrictIntegerGenerator: a fastjsonschema release that renames its type hook would
    # silently start accepting 2024.0 again.
    schema_set = load_schema_sets()[1]
    event = example_event("school.project", year=2024.0)
    with pytest.raises(ValueError):
        schema_set.fast_envelope(event)
    assert not schema_set.ref_envelope.is_valid(event)
    assert check_event_dict(event).code == "schema"


def _copy_as_v2(tmp_path: Path) -> Path:
    v2 = tmp_path / "v2"
    shutil.copytree(V1, v2)
    envelope_path = v2 / "envelope.schema.json"
    envelope = json.loads(envelope_path.read_text(encoding="utf-8"))
    envelope["properties"]["schema_version"]["const"] = 2
    envelope_path.write_text(json.dumps(envelope), encoding="utf-8")
    return v2


def test_a_version_2_directory_loads_without_code_changes(tmp_path: Path) -> None:
    schema_set = _load_version(2, _copy_as_v2(tmp_path))
    assert schema_set.version == 2 and len(schema_set.event_types) == 10
    event = example_event("school.staff", schema_version=2)
    schema_set.fast_envelope(event)
    schema_set.fast_payloads["school.staff"](event["payload"])


def test_version_directory_must_pin_its_own_version(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="const 3"):
        _load_version(3, _copy_as_v2(tmp_path))


def test_version_directory_missing_a_payload_schema_fails_loudly(tmp_path: Path) -> None:
    v2 = _copy_as_v2(tmp_path)
    (v2 / "school.staff.schema.json").rename(v2 / "school.staf.schema.json")
    with pytest.raises(ValueError, match="school.staff.schema.json is missing"):
        _load_version(2, v2)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_payload_fields_the_rules_read_are_the_schemas_fields(version: str) -> None:
    """rules.facts names the staff and facilities fields once for the platform; the schemas of
    every version must require exactly those (version 2 changed neither payload, so its events
    reach the engine unchanged)."""
    from rules.facts import FACILITY_FIELDS, STAFF_FIELDS

    directory = SCHEMA_DIR / version
    staff = json.loads((directory / "school.staff.schema.json").read_text(encoding="utf-8"))["$defs"]["staff"]
    facilities = json.loads((directory / "school.facilities.schema.json").read_text(encoding="utf-8"))["$defs"][
        "facilities"
    ]
    assert tuple(staff["required"]) == STAFF_FIELDS
    assert tuple(facilities["required"]) == FACILITY_FIELDS
