"""The contract fuzz tests' mutation, shared by version 1 (test_contract_fuzz.py) and version 2
(test_contract_v2.py): a few random edits anywhere in a valid event -- a key deleted, or a key
(existing or one of ``extra_keys``) or list item set to a drawn value."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastjsonschema import JsonSchemaValueException
from hypothesis import strategies as st


def containers(node: Any) -> list[Any]:
    """Every dict and list inside ``node``, ``node`` itself included."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        if isinstance(child, (dict, list)):
            found.extend(containers(child))
    return found


@st.composite
def mutated(
    draw: st.DrawFn,
    events: st.SearchStrategy[dict[str, Any]],
    values: st.SearchStrategy[Any],
    extra_keys: Sequence[str],
    min_edits: int = 1,
    max_edits: int = 3,
) -> dict[str, Any]:
    """An event drawn from ``events`` (copied) after ``min_edits``..``max_edits`` edits."""
    event: dict[str, Any] = json.loads(json.dumps(draw(events)))
    for _ in range(draw(st.integers(min_value=min_edits, max_value=max_edits))):
        container = draw(st.sampled_from(containers(event)))
        if isinstance(container, dict):
            key = draw(st.sampled_from(sorted(container) + list(extra_keys)))
            if key in container and draw(st.booleans()):
                del container[key]
            else:
                container[key] = draw(values)
        elif container:
            container[draw(st.integers(0, len(container) - 1))] = draw(values)
        else:
            container.append(draw(values))
    return event


def fast_ok(validate: Any, instance: Any) -> bool:
    """Whether a fastjsonschema validator accepts ``instance``."""
    try:
        validate(instance)
    except JsonSchemaValueException:
        return False
    return True
