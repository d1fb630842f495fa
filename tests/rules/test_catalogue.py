"""The catalogue holds every rule of the standard and the plan, and refuses bad files loudly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from rules import CatalogueError, load_catalogue

SPEC_IDS = (
    [f"R{i}" for i in range(1, 8)]
    + ["RA-S", "RA-CV"]
    + [f"G{i}" for i in range(1, 16)]
    + [f"Q{i}" for i in range(1, 10)]
    + ["SR", "PRE", "PRE-2"]
    + [f"V{i}" for i in range(1, 6)]
    + [f"C{i}" for i in range(1, 14)]
    + ["D1", "D2", "D3"]
)


def test_every_rule_of_the_spec_is_in_the_catalogue(catalogue):
    assert sorted(catalogue.rules) == sorted(SPEC_IDS)


def test_every_rule_is_explainable(catalogue):
    for rule in catalogue.rules.values():
        assert rule.name_zh and rule.name_en, rule.id
        assert rule.clause.ref in ("教督〔2017〕6号", "青教通字〔2021〕137号"), rule.id
        assert rule.clause.item, rule.id
        assert rule.severity in ("critical", "major", "minor")
        assert rule.scope in ("section", "school", "district", "city")


@pytest.mark.parametrize(
    "rule_id,primary,junior",
    [
        ("R1", 4.2, 5.3),
        ("R2", 1.0, 1.0),
        ("R3", 0.9, 0.9),
        ("R4", 4.5, 5.8),
        ("R5", 7.5, 10.2),
        ("R6", 2000, 2500),
        ("R7", 2.3, 2.4),
        ("RA-CV", 0.50, 0.45),
        ("G5", 45, 50),
    ],
)
def test_thresholds_are_the_standards(catalogue, rule_id, primary, junior):
    assert dict(catalogue.rule(rule_id).thresholds) == {"primary": primary, "junior": junior}


def test_city_plan_layers_on_the_national_standard(catalogue):
    assert catalogue.name == "qingdao-2021"
    assert set(catalogue.versions) == {"national-2017", "qingdao-2021"}
    assert catalogue.rule("R1").source == "national-2017.yaml"
    assert catalogue.rule("C1").params["milestones"] == {2023: 30, 2025: 100}
    national = load_catalogue("national-2017")
    assert "C1" not in national.rules and "R1" in national.rules


def _write(tmp_path: Path, doc: dict, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _child(tmp_path: Path, rules: list, overrides: dict | None = None) -> Path:
    return _write(
        tmp_path,
        {
            "catalogue": "test",
            "version": "1",
            "extends": "national-2017",
            "documents": {"T": {"ref": "测试"}},
            "rules": rules,
            "overrides": overrides or {},
        },
    )


GOOD_RULE = {
    "id": "L1",
    "name_zh": "本地指标",
    "name_en": "A local rule",
    "dimension": "city_target",
    "scope": "district",
    "kind": "district_metric",
    "params": {"checks": [{"input": "stat.satisfaction_pct", "comparator": ">=", "threshold": 90}]},
    "clause": {"document": "T", "item": "一"},
    "in_force": {"from": 2021},
    "severity": "minor",
}


def test_a_bureau_adds_a_local_rule_and_tightens_a_threshold_without_code(tmp_path):
    path = _child(tmp_path, [GOOD_RULE], overrides={"R1": {"thresholds": {"primary": 4.5, "junior": 5.5}}})
    cat = load_catalogue(path)
    assert cat.rule("L1").checks[0].threshold == 90
    assert dict(cat.rule("R1").thresholds) == {"primary": 4.5, "junior": 5.5}


@pytest.mark.parametrize(
    "mutation,message",
    [
        (lambda r: r.update(kind="magic"), "rule L1: unknown kind 'magic'"),
        (lambda r: r.update(severity="fatal"), "rule L1: severity must be one of"),
        (lambda r: r.pop("clause"), "rule L1: missing 'clause'"),
        (lambda r: r.update(clause={"document": "NOPE", "item": "1"}), "rule L1: clause cites unknown document 'NOPE'"),
        (lambda r: r["params"]["checks"][0].update(comparator="~"), "rule L1: check"),
        (lambda r: r["params"]["checks"][0].update(input="satisfaction_pct"), "must start with one of"),
        (lambda r: r["params"]["checks"][0].pop("threshold"), "give exactly one of 'threshold' or 'threshold_input'"),
        (lambda r: r.update(in_force={"from": 2021, "to": 2019}), "in_force.to must be a year not before"),
        (lambda r: r.update(colour="red"), "unknown field(s) ['colour']"),
        (lambda r: r.update(id="R1"), "rule R1: duplicate id"),
    ],
)
def test_a_bad_rule_fails_with_file_rule_and_problem(tmp_path, mutation, message):
    rule = yaml.safe_load(yaml.safe_dump(GOOD_RULE))
    mutation(rule)
    path = _child(tmp_path, [rule])
    with pytest.raises(CatalogueError) as err:
        load_catalogue(path)
    assert str(path) in str(err.value) or path.name in str(err.value)
    assert message in str(err.value)


def test_section_indicator_without_a_level_threshold_is_refused(tmp_path):
    rule = {
        "id": "R8",
        "name_zh": "x",
        "name_en": "x",
        "dimension": "resource_allocation",
        "scope": "section",
        "kind": "section_indicator",
        "levels": ["primary", "junior"],
        "params": {"numerator": "multimedia_rooms", "denominator": "students", "scale": 100},
        "comparator": ">=",
        "thresholds": {"primary": 1.0},
        "clause": {"document": "T", "item": "1"},
        "in_force": {"from": 2021},
        "severity": "major",
    }
    with pytest.raises(CatalogueError, match=r"rule R8: no threshold for level 'junior'"):
        load_catalogue(_child(tmp_path, [rule]))


def test_override_of_an_unknown_rule_is_refused(tmp_path):
    with pytest.raises(CatalogueError, match="override of rule R99: no such rule"):
        load_catalogue(_child(tmp_path, [], overrides={"R99": {"severity": "minor"}}))


def test_alias_to_an_unknown_rule_is_refused(tmp_path):
    rule = dict(GOOD_RULE, kind="alias", params={"rule": "G99"})
    with pytest.raises(CatalogueError, match="rule L1: refers to unknown rule 'G99'"):
        load_catalogue(_child(tmp_path, [rule]))


def test_bad_settings_and_bad_yaml_are_refused(tmp_path):
    path = _write(
        tmp_path,
        {
            "catalogue": "t",
            "version": "1",
            "extends": "national-2017",
            "settings": {"veto_without_inspection": "maybe"},
            "rules": [],
        },
    )
    with pytest.raises(CatalogueError, match="veto_without_inspection"):
        load_catalogue(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(textwrap.dedent("catalogue: x\nrules: [\n"), encoding="utf-8")
    with pytest.raises(CatalogueError, match="broken.yaml: not valid YAML"):
        load_catalogue(broken)
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue("no-such-catalogue")


def test_docs_rules_md_is_generated_from_the_current_catalogue(catalogue):
    from rules.docs import render

    doc = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert doc == render(catalogue), "docs/rules.md is stale: run `python -m rules.docs > docs/rules.md`"


def test_the_documented_local_catalogue_example_loads_and_applies(tmp_path):
    doc = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "qingdao-2026.yaml"
    path.write_text(example, encoding="utf-8")
    cat = load_catalogue(path)
    assert cat.settings["teaching_point_min_students"] == 50
    assert dict(cat.rule("R1").thresholds) == {"primary": 4.5, "junior": 5.5}
    assert cat.rule("L1").checks[0].threshold == 90 and "C1" in cat.rules
