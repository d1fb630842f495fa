"""Junheng's rules engine: the national standard and a city's plan as a declarative catalogue,
pure evaluation functions with explanations, and an incremental per-district state.

Pure Python on purpose: no Kafka, no Faust, no I/O beyond reading the catalogue, so the Faust
agents and the embedded driver run exactly the same code.
"""

from rules.loader import Catalogue, CatalogueError, load_catalogue
from rules.model import Clause, Rule, RuleResult

__all__ = ["Catalogue", "CatalogueError", "Clause", "Rule", "RuleResult", "load_catalogue"]
