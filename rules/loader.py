"""Loading and validating the rules catalogue.

A catalogue file is YAML; a city plan `extends` the national one and may `override` a
national rule's fields. Everything is checked on load so that a bad edit fails at start-up
with the file, the rule id and what is wrong, rather than as a wrong verdict later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rules.model import COMPARATORS, LEVELS, SCOPES, SEVERITIES, Check, Clause, Rule

DEFAULT_CATALOGUE = "qingdao-2021"

# What each kind of rule must state. The evaluators in rules/ read exactly these.
_KIND_REQUIREMENTS: dict[str, dict[str, Any]] = {
    "section_indicator": {"params": ("numerator", "denominator", "scale"), "thresholds": True, "comparator": True},
    "section_rule": {"params": ("indicators", "min_met", "remainder_min_ratio")},
    "balance": {"params": ("indicators",), "thresholds": True, "comparator": True},
    "school_rooms": {"params": ("classes_per_room", "music_room_min_m2", "art_room_min_m2")},
    "school_size": {"params": ("max_students",)},
    "class_size": {"thresholds": True, "comparator": True},
    "small_school_funding": {"params": ("locales", "school_types", "below_students", "funded_as_students")},
    "school_ratio": {"params": ("numerator", "denominator", "scale"), "threshold": True, "comparator": True},
    "district_metric": {"checks": True},
    "inspection": {"params": ("item",)},
    "veto": {"params": ("item",)},
    "prerequisite": {"params": ("min_years_since_basic_balance",)},
    "prerequisite_history": {"params": ("years", "setting"), "thresholds": True, "comparator": True},
    "city_attainment_share": {"params": ("milestones",)},
    "no_large_classes_or_schools": {"params": ("large_class_min_students", "school_size_rule", "deadline_year")},
    "large_school_reduction": {"params": ("min_resolved_pct", "school_size_rule")},
    "city_projects": {"params": ("min_per_year_avg", "from_year", "to_year")},
    "compliance_improvement": {"params": ("min_fixed_pct", "indicators", "rooms_rule")},
    "city_sum": {"params": ("input", "min_total", "deadline_year")},
    "year_over_year": {"checks": True, "checks_without_threshold": True},
    "alias": {"params": ("rule",)},
    "deadline": {"params": ("milestone", "year_offset", "month", "day", "only_if_attained")},
}
KINDS = frozenset(_KIND_REQUIREMENTS)
_INPUT_NAMESPACES = ("stat.", "sum.")
_RULE_FIELDS = frozenset(
    {
        "id",
        "name_zh",
        "name_en",
        "dimension",
        "scope",
        "kind",
        "levels",
        "inputs",
        "params",
        "comparator",
        "thresholds",
        "threshold",
        "clause",
        "in_force",
        "severity",
    }
)
_OVERRIDABLE = frozenset(
    {"thresholds", "threshold", "params", "severity", "in_force", "comparator", "name_zh", "name_en"}
)


class CatalogueError(ValueError):
    """A catalogue file that cannot be trusted; the message names file, rule and problem."""


@dataclass(frozen=True)
class Catalogue:
    """The rules in force for one jurisdiction, with its settings, in catalogue order."""

    name: str
    versions: Mapping[str, str]
    rules: Mapping[str, Rule]
    settings: Mapping[str, Any]
    documents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def of_kind(self, *kinds: str) -> list[Rule]:
        return [r for r in self.rules.values() if r.kind in kinds]

    def section_indicators(self) -> list[Rule]:
        return self.of_kind("section_indicator")

    @property
    def version(self) -> str:
        return "+".join(f"{k}@{v}" for k, v in self.versions.items())


def _catalogue_dir() -> Path:
    return Path(str(resources.files("rules") / "catalogue"))


def load_catalogue(name_or_path: str | Path = DEFAULT_CATALOGUE) -> Catalogue:
    """Load a catalogue by name (a file in rules/catalogue/) or by path, with its parents."""
    path: Path | None = _resolve(name_or_path)
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: set[Path] = set()
    while path is not None:
        if path in seen:
            raise CatalogueError(f"{path}: extends itself through {[str(p) for p, _ in chain]}")
        seen.add(path)
        doc = _read_yaml(path)
        chain.append((path, doc))
        parent = doc.get("extends")
        path = _resolve(parent, relative_to=path.parent) if parent else None
    return _build(list(reversed(chain)))


def _resolve(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return candidate.resolve()
    for base in ([relative_to] if relative_to else []) + [_catalogue_dir()]:
        p = base / f"{name_or_path}.yaml"
        if p.exists():
            return p.resolve()
    raise CatalogueError(f"catalogue {name_or_path!r} not found (looked in {_catalogue_dir()})")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise CatalogueError(f"{path}: top level must be a mapping")
    for key in ("catalogue", "version", "rules"):
        if key not in doc:
            raise CatalogueError(f"{path}: missing top-level key {key!r}")
    if not isinstance(doc["rules"], list):
        raise CatalogueError(f"{path}: 'rules' must be a list")
    return doc


def _build(chain: list[tuple[Path, dict[str, Any]]]) -> Catalogue:
    documents: dict[str, Mapping[str, Any]] = {}
    settings: dict[str, Any] = {}
    raw_rules: dict[str, tuple[Path, dict[str, Any]]] = {}
    versions: dict[str, str] = {}
    for path, doc in chain:
        versions[str(doc["catalogue"])] = str(doc["version"])
        documents.update(doc.get("documents") or {})
        settings.update(doc.get("settings") or {})
        for rule_id, fields in (doc.get("overrides") or {}).items():
            if rule_id not in raw_rules:
                raise CatalogueError(f"{path}: override of rule {rule_id}: no such rule in the catalogues it extends")
            bad = set(fields) - _OVERRIDABLE
            if bad:
                raise CatalogueError(f"{path}: override of rule {rule_id}: cannot override {sorted(bad)}")
            merged = dict(raw_rules[rule_id][1])
            merged.update(fields)
            raw_rules[rule_id] = (path, merged)
        for index, raw in enumerate(doc["rules"]):
            if not isinstance(raw, dict) or "id" not in raw:
                raise CatalogueError(f"{path}: rule #{index + 1} has no id")
            if raw["id"] in raw_rules:
                raise CatalogueError(
                    f"{path}: rule {raw['id']}: duplicate id (use 'overrides' to change an inherited rule)"
                )
            raw_rules[str(raw["id"])] = (path, raw)
    _validate_settings(chain[-1][0], settings)
    rules = {rid: _parse_rule(path, raw, documents) for rid, (path, raw) in raw_rules.items()}
    _validate_references(rules)
    return Catalogue(
        name=str(chain[-1][1]["catalogue"]), versions=versions, rules=rules, settings=settings, documents=documents
    )


def _validate_settings(path: Path, settings: Mapping[str, Any]) -> None:
    levels = settings.get("levels")
    if list(levels or []) != list(LEVELS):
        raise CatalogueError(f"{path}: settings.levels must be {list(LEVELS)}, got {levels!r}")
    sections = settings.get("school_sections")
    if not isinstance(sections, dict) or not sections:
        raise CatalogueError(f"{path}: settings.school_sections must map each school type to its sections")
    for school_type, secs in sections.items():
        if not isinstance(secs, list) or any(s not in LEVELS for s in secs):
            raise CatalogueError(
                f"{path}: settings.school_sections.{school_type}: sections must be a list of {list(LEVELS)}"
            )
    tp = settings.get("teaching_point_min_students")
    if tp is not None and (not isinstance(tp, int) or tp < 0):
        raise CatalogueError(f"{path}: settings.teaching_point_min_students must be null or a whole number ≥ 0")
    if settings.get("veto_without_inspection") not in ("undecided", "clear"):
        raise CatalogueError(f"{path}: settings.veto_without_inspection must be 'undecided' or 'clear'")
    if not isinstance(settings.get("pre2_enabled"), bool):
        raise CatalogueError(f"{path}: settings.pre2_enabled must be true or false")


def _number(path: Path, rule_id: str, what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CatalogueError(f"{path}: rule {rule_id}: {what} must be a number, got {value!r}")
    return float(value)


def _parse_rule(path: Path, raw: dict[str, Any], documents: Mapping[str, Mapping[str, Any]]) -> Rule:
    rid = str(raw["id"])

    def fail(msg: str) -> CatalogueError:
        return CatalogueError(f"{path}: rule {rid}: {msg}")

    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}")
    for key in ("name_zh", "name_en", "dimension", "scope", "kind", "clause", "in_force", "severity"):
        if key not in raw or raw[key] in (None, ""):
            raise fail(f"missing {key!r}")
    kind = raw["kind"]
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r} (known: {sorted(KINDS)})")
    if raw["scope"] not in SCOPES:
        raise fail(f"scope must be one of {sorted(SCOPES)}")
    if raw["severity"] not in SEVERITIES:
        raise fail(f"severity must be one of {sorted(SEVERITIES)}")
    clause_raw = raw["clause"]
    if not isinstance(clause_raw, dict) or not clause_raw.get("document") or not clause_raw.get("item"):
        raise fail("clause must give a document and an item")
    document = documents.get(clause_raw["document"])
    if document is None:
        raise fail(f"clause cites unknown document {clause_raw['document']!r}")
    clause = Clause(document=str(clause_raw["document"]), ref=str(document["ref"]), item=str(clause_raw["item"]))
    in_force = raw["in_force"]
    if not isinstance(in_force, dict) or not isinstance(in_force.get("from"), int):
        raise fail("in_force must give a 'from' year")
    to = in_force.get("to")
    if to is not None and (not isinstance(to, int) or to < in_force["from"]):
        raise fail("in_force.to must be a year not before in_force.from")
    levels = tuple(raw.get("levels") or ())
    if any(lv not in LEVELS for lv in levels):
        raise fail(f"levels must be among {list(LEVELS)}")
    req = _KIND_REQUIREMENTS[kind]
    params = dict(raw.get("params") or {})
    for p in req.get("params", ()):
        if p not in params:
            raise fail(f"kind {kind} needs params.{p}")
    comparator = raw.get("comparator")
    if comparator is not None and comparator not in COMPARATORS:
        raise fail(f"comparator must be one of {sorted(COMPARATORS)}, got {comparator!r}")
    if req.get("comparator") and comparator is None:
        raise fail(f"kind {kind} needs a comparator")
    thresholds: dict[str, float] = {}
    if req.get("thresholds"):
        raw_t = raw.get("thresholds")
        if not isinstance(raw_t, dict) or not levels:
            raise fail("needs levels and a thresholds mapping per level")
        for lv in levels:
            if lv not in raw_t:
                raise fail(f"no threshold for level {lv!r}")
            thresholds[lv] = _number(path, rid, f"thresholds.{lv}", raw_t[lv])
    threshold = None
    if req.get("threshold"):
        if "threshold" not in raw:
            raise fail(f"kind {kind} needs a threshold")
        threshold = _number(path, rid, "threshold", raw["threshold"])
    checks: tuple[Check, ...] = ()
    if req.get("checks"):
        checks = tuple(
            _parse_check(fail, c, needs_threshold=not req.get("checks_without_threshold"))
            for c in params.pop("checks", None) or [None]
        )
    if kind == "section_indicator":
        _number(path, rid, "params.scale", params["scale"])
    if kind == "section_rule":
        if not 0 < _number(path, rid, "params.remainder_min_ratio", params["remainder_min_ratio"]) <= 1:
            raise fail("params.remainder_min_ratio must be in (0, 1]")
    return Rule(
        id=rid,
        name_zh=str(raw["name_zh"]),
        name_en=str(raw["name_en"]),
        dimension=str(raw["dimension"]),
        scope=str(raw["scope"]),
        kind=kind,
        clause=clause,
        severity=str(raw["severity"]),
        in_force_from=int(in_force["from"]),
        in_force_to=to,
        levels=levels,
        inputs=tuple(str(i) for i in raw.get("inputs") or ()),
        comparator=comparator,
        thresholds=thresholds,
        threshold=threshold,
        params=params,
        checks=checks,
        source=str(path.name),
    )


def _parse_check(fail: Any, raw: Any, needs_threshold: bool) -> Check:
    if not isinstance(raw, dict):
        raise fail("params.checks must be a non-empty list of mappings")
    comparator = raw.get("comparator")
    if comparator not in COMPARATORS:
        raise fail(f"check {raw}: comparator must be one of {sorted(COMPARATORS)}")
    has_input, has_ratio = "input" in raw, "ratio" in raw
    if has_input == has_ratio:
        raise fail(f"check {raw}: give exactly one of 'input' or 'ratio'")
    ratio = None
    if has_ratio:
        r = raw["ratio"]
        if not (isinstance(r, list) and len(r) == 2):
            raise fail(f"check {raw}: ratio must be [numerator, denominator]")
        ratio = (str(r[0]), str(r[1]))
    check = Check(
        comparator=comparator,
        input=raw.get("input"),
        ratio=ratio,
        scale=float(raw.get("scale", 1)),
        threshold=raw.get("threshold"),
        threshold_input=raw.get("threshold_input"),
        applies_to_locale=raw.get("applies_to_locale"),
    )
    if check.applies_to_locale is not None and check.applies_to_locale not in ("urban", "town", "rural"):
        raise fail(f"check {raw}: applies_to_locale must be urban, town or rural")
    for name in check.inputs():
        if not name.startswith(_INPUT_NAMESPACES):
            raise fail(f"check input {name!r} must start with one of {_INPUT_NAMESPACES}")
    if needs_threshold:
        if (check.threshold is None) == (check.threshold_input is None):
            raise fail(f"check {raw}: give exactly one of 'threshold' or 'threshold_input'")
        if check.threshold is not None and (
            isinstance(check.threshold, bool) or not isinstance(check.threshold, (int, float))
        ):
            raise fail(f"check {raw}: threshold must be a number")
    return check


def _validate_references(rules: Mapping[str, Rule]) -> None:
    for rule in rules.values():
        refs: list[str] = []
        if rule.kind in ("section_rule", "balance", "compliance_improvement"):
            refs += list(rule.params["indicators"])
        if rule.kind == "alias":
            refs.append(rule.params["rule"])
        for key in ("school_size_rule", "rooms_rule"):
            if key in rule.params:
                refs.append(rule.params[key])
        for ref in refs:
            if ref not in rules:
                raise CatalogueError(f"{rule.source}: rule {rule.id}: refers to unknown rule {ref!r}")
        if rule.kind in ("section_rule", "balance"):
            for ref in rule.params["indicators"]:
                if rules[ref].kind != "section_indicator":
                    raise CatalogueError(f"{rule.source}: rule {rule.id}: {ref} is not a section indicator")
        if rule.kind == "alias" and rules[rule.params["rule"]].kind == "alias":
            raise CatalogueError(f"{rule.source}: rule {rule.id}: an alias may not point at another alias")
