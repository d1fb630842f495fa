"""Render the catalogue as the rule reference in docs/rules.md, so the document cannot drift
from the data: `python -m rules.docs > docs/rules.md` (a test checks it is current)."""

from __future__ import annotations

import sys

from rules.loader import Catalogue, load_catalogue
from rules.model import Rule

DIMENSIONS = [
    ("resource_allocation", "Resource allocation (资源配置)"),
    ("government_guarantee", "Government guarantee (政府保障程度)"),
    ("education_quality", "Education quality (教育质量)"),
    ("social_recognition", "Social recognition (社会认可度)"),
    ("prerequisite", "Prerequisites (申请条件)"),
    ("veto", "Vetoes (一票否决)"),
    ("city_target", "Qingdao's targets (city plan)"),
    ("calendar", "Qingdao's calendar"),
]

HEADER = """# The rules

Generated from the catalogue by `python -m rules.docs` — edit `rules/catalogue/*.yaml` and
`rules/docs.py`, not this file (a test fails when it is out of date).

The engine judges school **sections** (a nine-year school is a primary and a junior section), then
**districts** (the unit of the coefficient of variation), then the **city**. Every result is three-valued:
met, not met, or undecided (`null`) when an input is missing, and carries its rule id, inputs, value,
threshold, comparator and clause. A value exactly at a threshold meets it.

## How a bureau changes a number or adds a local rule — without code

Catalogues are layered YAML files in `rules/catalogue/`: `qingdao-2021.yaml` `extends:
national-2017`. A province or city writes its own file that extends one of them, and selects it with
`JUNHENG_CATALOGUE=<name or path>`:

```yaml
catalogue: qingdao-2026
version: "2026.1"
extends: qingdao-2021
documents:
  QD-2026: {ref: 青教通字〔2026〕1号, title_zh: …, title_en: …}
settings:
  teaching_point_min_students: 50        # leave teaching points under 50 students out of RA
overrides:
  R1: {thresholds: {primary: 4.5, junior: 5.5}}   # tighten a national threshold
rules:
  - id: L1                                # a local rule, of a kind the engine knows
    name_zh: 满意度达到90%
    name_en: Satisfaction at least 90%
    dimension: city_target
    scope: district
    kind: district_metric
    params:
      checks:
        - {input: stat.satisfaction_pct, comparator: ">=", threshold: 90}
    clause: {document: QD-2026, item: "三"}
    in_force: {from: 2026}
    severity: minor
```

The file is validated on load: an unknown kind or field, a missing threshold for a level, a bad
comparator, an unknown document or referenced rule, or an override of a rule that does not exist
stops the platform with the file, the rule id and what is wrong. Inputs of `district_metric` checks
are `stat.<field>` (a `district.statistics` field) or `sum.<field>` (a staff field summed over the
district's schools); a check compares an input, or a `ratio: [numerator, denominator]` with a
`scale`, against a `threshold` or a `threshold_input`.

## Interpretations the catalogue makes explicit

- **Q9** reads `monitoring_level_iii_share_pct` as the share of monitored subjects whose result is
  at level III or above; the standard asks for all of them (100%).
- **G13**'s town figure applies only where the district has town schools: an all-urban district
  reports no town figure, and the check is met as not applicable (`applies_to_locale: town`).
- **G3** asks for at least ⌈classes / 12⌉ music rooms and as many art rooms (at least one each), every
  room at its minimum area; classes are the school's compulsory classes.
- **G6** checks that a village (rural) school or teaching point under 100 students has a public-funds
  budget of at least 100 × its per-student quota.
- **Vetoes** with no inspection on file are undecided (`veto_without_inspection: undecided`); a
  jurisdiction may set `clear`.
- **C2** counts from its deadline (2025); before it, the yearly rates C3 and C5 measure progress.
- **C3/C5** compare a school with itself in the previous year; a school new this year counts as not
  large / not previously non-compliant.
- Facilities reported for a whole school are apportioned to its sections by enrolment (a twelve-year
  school's senior part takes its share too, then is not evaluated).

## Exactness of the coefficient of variation

Per (district, year, level, indicator) the engine keeps W = ΣP, A = ΣP·X and B = ΣP·X² — but as
exact integers: every float X is a dyadic rational, so with a common power-of-two scale the sums are
Python integers, a retraction removes exactly what was added, and CV² = (B·W − A²)/A² is evaluated once
and rounded once. It therefore equals the standard's two-pass formula to the last bits, and the variance
can never be negative (tests: `tests/rules/test_balance.py`, the hypothesis tests in
`tests/rules/test_properties.py`).

## Adding a rule kind

A new rule of an existing kind needs only the catalogue (above). A new *kind* of district rule (one
judged per district and year, from the district's facts and what its schools add up to) is one
Python module and one SQL macro; the engine and the warehouse judge it independently and the tests
hold them equal. `tests/rules/test_kinds.py` fails while a kind a catalogue uses lacks either half.

1. **Catalogue validation** — `rules/loader.py`: add the kind to `_KIND_REQUIREMENTS` with what its
   rules must state (params, thresholds per level, comparator, checks), so that a bad rule stops the
   platform on load with the file, the rule id and the field; rules it refers to are checked in
   `_validate_references`.
2. **Python module** — `rules/kinds/<kind>.py`: a `RuleKind` subclass (the contract is
   `rules/kinds/base.py`) and `KIND = <Class>("<kind>")`, added to `KINDS` in
   `rules/kinds/registry.py`, which is the engine's dispatch.
   - `evaluate()` returns a `RuleResult` with its inputs, value, threshold, comparator and a reason
     whenever it is not met; it reads the district only through `DistrictView`.
   - What it reads decides when it is judged again. Judged from school facts: `school_derived()` is
     true, `reads_counter()` names every counter it reads, and `verdict()` reads them directly (the
     same `passed` as `evaluate()`, without the explanation: it runs per event). Judged from the
     district's facts: `reads_fact()` names them (`statistics`, `registered`, `inspection:<item>`).
     The defaults are the safe ones: a kind that says nothing is judged whenever anything moves.
   - The counters the schools add for it are named in the module (constants or a `…_keys()`
     function) and added per school in `rules/contributions.py`, or by a `school_counters()` of the
     module for what compares a school with its previous year (as C3, C5); what each school is
     judged on is `rules/sections.py` (`SchoolEval`).
   - The module is compiled with the engine (`scripts/compile-rules.sh` compiles
     `rules/kinds/[!_]*.py`): annotate every function; `python -m mypy rules/kinds` must pass.
3. **SQL macro** — `dbt_project/macros/kinds/<kind>.sql` defining `rule_kind__<kind>(judged)`: a
   select of `(rule_id, district_code, year, passed, value, reason, due)` for the kind's rules
   (`rules where kind = '<kind>'`) over the district-years `dy` / `dyi`; the contract and the helpers
   several kinds share are in `dbt_project/macros/rule_kinds.sql`. `int_district_rule_verdicts.sql`
   calls the macro of every kind in the rules seed, and stops the build for a kind without one.
   Per-school inputs belong in `int_school_checks.sql` (or a model of their own).
4. **Seeds** — scalar and list parameters reach the warehouse through the `rule_params` seed as they
   are; a kind whose parameters need a table of their own gets a seed in `rules/seeds.py` (and a
   place in `_OWN_SEED_KINDS`). Regenerate: `python -m rules.seeds dbt_project/seeds`.
5. **Tests** — in `tests/rules/test_district_rules.py`, each branch of `evaluate()` (met, not met,
   undecided) and the fast verdict equal to it; a rule of the kind in a catalogue that
   `tests/dbt/test_dbt_build.py` builds, so that the SQL verdict is held equal to the engine's for
   every district-year; `tests/rules/test_kinds.py` then passes. Rebuild the compiled engine
   (`scripts/compile-rules.sh`): `tests/rules/test_compiled_engine.py` holds it equal to the pure one.
6. **Docs** — the rule's reading in "Interpretations the catalogue makes explicit" (`rules/docs.py`),
   then `python -m rules.docs > docs/rules.md`.

A kind not judged per district (a section indicator, a target of the city, a deadline of the
calendar) is named in `ELSEWHERE` (`rules/kinds/registry.py`) with its Python and SQL homes. Where
every kind lives (from the registry):
"""


def _threshold(rule: Rule) -> str:
    if rule.thresholds:
        return ", ".join(f"{lv} {rule.comparator} {t:g}" for lv, t in rule.thresholds.items())
    if rule.threshold is not None:
        return f"{rule.comparator} {rule.threshold:g}"
    if rule.checks:
        parts = []
        for c in rule.checks:
            what = c.input or (f"{c.ratio[0]}/{c.ratio[1]}×{c.scale:g}" if c.ratio else "")
            bound = f"{c.threshold:g}" if c.threshold is not None else (c.threshold_input or "last year")
            where = f" (where the district has {c.applies_to_locale} schools)" if c.applies_to_locale else ""
            parts.append(f"{what} {c.comparator} {bound}{where}")
        return "; ".join(parts)
    interesting = {k: v for k, v in rule.params.items() if k not in ("indicators",)}
    return ", ".join(f"{k}: {v}" for k, v in interesting.items())


def _kinds() -> list[str]:
    """Where each kind lives, from the registry."""
    from rules.kinds.registry import ELSEWHERE, KINDS

    out = ["", "| kind | Python | SQL |", "|---|---|---|"]
    for kind in sorted(KINDS):
        out.append(f"| {kind} | `rules/kinds/{kind}.py` | `dbt_project/macros/kinds/{kind}.sql` |")
    for kind, (python, sql) in sorted(ELSEWHERE.items()):
        out.append(f"| {kind} | `{python}` | `{sql}` |")
    return out


def render(catalogue: Catalogue) -> str:
    out = [HEADER.rstrip("\n"), *_kinds(), f"\n## The catalogue `{catalogue.name}` ({catalogue.version})\n"]
    for key, title in DIMENSIONS:
        rules = [r for r in catalogue.rules.values() if r.dimension == key]
        if not rules:
            continue
        out.append(f"\n### {title}\n")
        out.append("| id | rule | scope | kind | threshold | clause | in force | severity |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in rules:
            years = f"{r.in_force_from}–{r.in_force_to or ''}"
            out.append(
                f"| {r.id} | {r.name_zh}<br>{r.name_en} | {r.scope} | {r.kind} | "
                f"{_threshold(r).replace('|', '/')} | {r.clause.cite()} | {years} | {r.severity} |"
            )
    settings = ", ".join(f"`{k}`: {v}" for k, v in catalogue.settings.items() if k != "school_sections")
    out.append(f"\nSettings: {settings}.\n")
    return "\n".join(out)


def main() -> None:
    sys.stdout.write(render(load_catalogue()))


if __name__ == "__main__":
    main()
