"""Shared fixtures: the default catalogue and engine are built once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/factories.py

from rules import load_catalogue  # noqa: E402
from rules.state import Engine  # noqa: E402


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="session")
def engine(catalogue):
    return Engine(catalogue)
