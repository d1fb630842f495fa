"""One kind, one place per side: every kind of rule a catalogue uses is a Python module of
rules/kinds/ and a SQL macro of dbt_project/macros/kinds/ (or is named in ELSEWHERE with where it
is judged), and nothing in either folder is a kind no catalogue can use (docs/rules.md, "Adding a
rule kind")."""

from __future__ import annotations

import importlib
import re
import textwrap
from pathlib import Path

import pytest

from rules import CatalogueError, load_catalogue
from rules.district import DistrictEvaluator
from rules.kinds.base import RuleKind
from rules.kinds.registry import ELSEWHERE, KINDS
from rules.loader import KINDS as LOADER_KINDS

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "rules" / "kinds"
MACROS = ROOT / "dbt_project" / "macros" / "kinds"
HELPERS = {"__init__", "base", "registry"}  # rules/kinds/ modules that are no kind
CATALOGUES = ("qingdao-2021", "national-2017")


def _macro_names(path: Path) -> list[str]:
    return re.findall(r"{%-?\s*macro\s+(\w+)\s*\(", path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_kind_a_catalogue_uses_has_both_halves_or_is_judged_elsewhere(name):
    catalogue = load_catalogue(name)
    used = {r.kind for r in catalogue.rules.values()}
    assert used <= set(KINDS) | set(ELSEWHERE), f"kinds of {name} with no home: {used - set(KINDS) - set(ELSEWHERE)}"
    for kind in used & set(KINDS):
        assert (MODULES / f"{kind}.py").is_file(), f"{kind}: no Python module rules/kinds/{kind}.py"
        macro = MACROS / f"{kind}.sql"
        assert macro.is_file(), f"{kind}: no SQL macro dbt_project/macros/kinds/{kind}.sql"
        assert _macro_names(macro) == [f"rule_kind__{kind}"], f"{macro} must define rule_kind__{kind}(judged) alone"
    DistrictEvaluator(catalogue)  # every district rule has its kind


def test_every_registered_kind_is_its_own_module_and_macro():
    for kind, evaluator in KINDS.items():
        module = importlib.import_module(f"rules.kinds.{kind}")
        assert module.KIND is evaluator and evaluator.name == kind
        assert isinstance(evaluator, RuleKind)
        assert _macro_names(MACROS / f"{kind}.sql") == [f"rule_kind__{kind}"]


def test_no_module_or_macro_is_a_kind_nobody_registered():
    modules = {p.stem for p in MODULES.glob("*.py")} - HELPERS
    macros = {p.stem for p in MACROS.glob("*.sql")}
    assert modules == set(KINDS), "a module of rules/kinds/ missing from registry.py, or the reverse"
    assert macros == set(KINDS), "a macro of dbt_project/macros/kinds/ for no registered kind, or the reverse"
    # the kind macros are found by their prefix: no other macro may use it
    others = [
        n
        for p in (ROOT / "dbt_project" / "macros").rglob("*.sql")
        if p.parent != MACROS
        for n in _macro_names(p)
        if n.startswith("rule_kind__")
    ]
    assert not others


def test_the_loader_validates_exactly_the_kinds_there_are():
    assert not set(KINDS) & set(ELSEWHERE)
    assert set(LOADER_KINDS) == set(KINDS) | set(ELSEWHERE)


@pytest.mark.parametrize("kind", sorted(ELSEWHERE))
def test_kinds_judged_elsewhere_are_where_the_registry_says(kind):
    for path in ELSEWHERE[kind]:
        text = (ROOT / path).read_text(encoding="utf-8")
        assert kind in text, f"{path} does not judge {kind}"


def test_a_district_rule_of_no_district_kind_is_refused_when_the_engine_is_built(tmp_path):
    """A city-level kind used for a district target passes the loader (the kind exists) but the
    district evaluator has nothing to judge it with: it says so at start-up, not at the first event."""
    path = tmp_path / "odd.yaml"
    path.write_text(
        textwrap.dedent("""\
        catalogue: odd
        version: "1"
        extends: qingdao-2021
        documents:
          T: {ref: 测试}
        rules:
          - id: L1
            name_zh: 测试
            name_en: Test
            dimension: city_target
            scope: district
            kind: city_projects
            params: {min_per_year_avg: 1, from_year: 2021, to_year: 2025}
            clause: {document: T, item: "一"}
            in_force: {from: 2021}
            severity: minor
        """),
        encoding="utf-8",
    )
    catalogue = load_catalogue(path)
    with pytest.raises(CatalogueError, match=r"L1 \(city_projects\)"):
        DistrictEvaluator(catalogue)
