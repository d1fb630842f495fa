"""Fixtures for the GX layer: one BatchValidator for the whole session (GX takes seconds to import)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def validator():
    from expectations import BatchValidator

    return BatchValidator()
