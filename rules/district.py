"""District-level rules: evaluated from the district's running totals and its own facts.

Each kind of rule is one module of rules/kinds/ (its evaluator with explanations, its fast
verdict, what it reads); `DistrictEvaluator` dispatches to them through the registry and works
out, from what each kind says it reads, which rules an event can move. Kinds read the district
through `DistrictView`, never through the schools, which is what keeps updates incremental.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from rules.kinds import balance as balance_kind
from rules.kinds.base import DistrictView, Judge
from rules.kinds.registry import KINDS
from rules.loader import Catalogue, CatalogueError
from rules.logic import all_of
from rules.model import Rule, RuleResult

__all__ = [
    "ATTAINMENT_DIMENSIONS",
    "AttainmentSummary",
    "DistrictEvaluator",
    "DistrictView",
    "SummaryTally",
    "summarise",
]

ATTAINMENT_DIMENSIONS = (
    "resource_allocation",
    "government_guarantee",
    "education_quality",
    "social_recognition",
    "prerequisite",
    "veto",
)


class DistrictEvaluator(Judge):
    """Evaluates a catalogue's district-scoped rules; built once per catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__(catalogue, KINDS)
        unknown = [
            f"{r.id} ({r.kind})" for r in catalogue.rules.values() if _is_district_rule(r) and r.kind not in KINDS
        ]
        if unknown:
            raise CatalogueError(
                f"catalogue {catalogue.name}: rules of a kind that is no district rule kind "
                f"(rules/kinds/): {', '.join(unknown)}"
            )
        self.attainment_rules: list[Rule] = [r for r in catalogue.rules.values() if _is_attainment_rule(r)]
        self.school_derived = [r for r in self.attainment_rules if self.kind(r).school_derived(self, r)]
        self.district_derived = [r for r in self.attainment_rules if not self.kind(r).school_derived(self, r)]
        # school-derived rules that read coefficients: RA-CV (and its aliases) reads only the
        # per-pair verdicts; a kind may say it reads the moments themselves
        self.pair_verdict_readers = tuple(r for r in self.school_derived if self.kind(r).reads_pair_verdicts(self, r))
        self.moment_readers = tuple(r for r in self.school_derived if self.kind(r).reads_moments(self, r))
        self._readers: dict[str, tuple[Rule, ...]] = {}
        self._fact_readers: dict[str, tuple[Rule, ...]] = {}
        self._readers_of_sets: dict[tuple[frozenset[str], bool, bool], tuple[Rule, ...]] = {}

    # ------------------------------------------------------------------ what a verdict reads
    def rules_reading(self, key: str) -> tuple[Rule, ...]:
        """The school-derived rules whose verdict reads the counter `key`: after a school
        event only these need judging again. Memoised, as a district has ~100 counter names."""
        found = self._readers.get(key)
        if found is None:
            found = self._readers[key] = tuple(
                r for r in self.school_derived if self.kind(r).reads_counter(self, r, key)
            )
        return found

    def rules_to_judge(
        self, keys: AbstractSet[str], moments_moved: bool, pair_verdicts_moved: bool
    ) -> tuple[Rule, ...]:
        """The school-derived rules reading any of the counters `keys` (rules_reading()),
        any coefficient's moments when `moments_moved`, any per-pair RA-CV verdict when
        `pair_verdicts_moved`. Memoised by the set of keys, because events of one kind move
        the same few sets of counters again and again; the memo is emptied when large, as
        batches form many different unions."""
        memo_key = (frozenset(keys), moments_moved, pair_verdicts_moved)
        found = self._readers_of_sets.get(memo_key)
        if found is None:
            if len(self._readers_of_sets) >= 4096:
                self._readers_of_sets.clear()
            rules = {r.id: r for key in memo_key[0] for r in self.rules_reading(key)}
            if moments_moved:
                rules.update((r.id, r) for r in self.moment_readers)
            if pair_verdicts_moved:
                rules.update((r.id, r) for r in self.pair_verdict_readers)
            found = self._readers_of_sets[memo_key] = tuple(rules.values())
        return found

    def rules_reading_facts(self, facts: AbstractSet[str]) -> tuple[Rule, ...]:
        """The attainment rules reading any of the district facts named in `facts`:
        "statistics", "registered", "inspection:<item>", or "*" for all of them."""
        found: dict[str, Rule] = {}
        for fact in facts:
            rules = self._fact_readers.get(fact)
            if rules is None:
                rules = self._fact_readers[fact] = tuple(r for r in self.attainment_rules if self._reads_fact(r, fact))
            found.update((r.id, r) for r in rules)
        return tuple(found.values())

    def _reads_fact(self, rule: Rule, fact: str) -> bool:
        """Whether the rule's verdict may read the district fact (RuleKind.reads_fact); "*"
        stands for any district fact."""
        if fact == "*":
            return rule in self.district_derived or self._reads_fact(rule, "statistics")
        return self.kind(rule).reads_fact(self, rule, fact)

    # ------------------------------------------------------------------ RA-CV per pair
    def balance_verdict(self, rule: Rule, view: DistrictView, level: str, indicator: str) -> bool | None:
        """RA-CV for one pair, without building its explanation (rules/kinds/balance.py)."""
        return balance_kind.pair_verdict(rule, view, level, indicator)

    def balance_result(self, rule: Rule, view: DistrictView, level: str, indicator: str) -> RuleResult:
        """RA-CV for one level and indicator, explained (rules/kinds/balance.py)."""
        return balance_kind.pair_result(rule, view, level, indicator)


def _is_attainment_rule(rule: Rule) -> bool:
    """A rule of the attainment verdict judged per district-year: section indicators reach the
    district through RA-S and RA-CV, not on their own."""
    return rule.dimension in ATTAINMENT_DIMENSIONS and rule.kind != "section_indicator"


def _is_district_rule(rule: Rule) -> bool:
    """A rule judged per district-year: an attainment rule or a district target of the city plan."""
    return _is_attainment_rule(rule) or (rule.dimension == "city_target" and rule.scope == "district")


@dataclass(frozen=True)
class AttainmentSummary:
    """A district's verdict for one year, by dimension, with the rule ids that fail it."""

    resource_passed: bool | None
    government_passed: bool | None
    quality_passed: bool | None
    social_passed: bool | None
    prerequisite_passed: bool | None
    vetoed: bool | None
    attained: bool | None
    failed_items: tuple[str, ...]
    undecided_items: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_passed": self.resource_passed,
            "government_passed": self.government_passed,
            "quality_passed": self.quality_passed,
            "social_passed": self.social_passed,
            "prerequisite_passed": self.prerequisite_passed,
            "vetoed": self.vetoed,
            "attained": self.attained,
            "failed_items": list(self.failed_items),
            "undecided_items": list(self.undecided_items),
        }


class SummaryTally:
    """summarise() kept current one verdict at a time: per dimension, how many rules are
    judged and how many of them are False or None, and the failed and undecided rule ids.
    A moved verdict then costs O(1), and summary() O(failed + undecided), not O(rules)."""

    def __init__(self, dimension_of: Mapping[str, str]) -> None:
        self._dimension_of = dimension_of
        self._judged = dict.fromkeys(ATTAINMENT_DIMENSIONS, 0)
        self._false = dict.fromkeys(ATTAINMENT_DIMENSIONS, 0)
        self._none = dict.fromkeys(ATTAINMENT_DIMENSIONS, 0)
        self._failed: set[str] = set()
        self._undecided: set[str] = set()

    def judged(self, rule_id: str, passed: bool | None) -> None:
        """A rule judged for the first time."""
        self._judged[self._dimension_of[rule_id]] += 1
        self._count(rule_id, passed, 1)

    def moved(self, rule_id: str, before: bool | None, after: bool | None) -> None:
        self._count(rule_id, before, -1)
        self._count(rule_id, after, 1)

    def _count(self, rule_id: str, passed: bool | None, by: int) -> None:
        """Count a verdict in (by=1) or out (by=-1); a True verdict only counts as judged."""
        if passed is True:
            return
        counts, ids = (self._false, self._failed) if passed is False else (self._none, self._undecided)
        counts[self._dimension_of[rule_id]] += by
        if by > 0:
            ids.add(rule_id)
        else:
            ids.discard(rule_id)

    def _dimension(self, d: str, if_empty: bool | None) -> bool | None:
        """all_of() over the dimension's verdicts, from its counts."""
        if not self._judged[d]:
            return if_empty
        return False if self._false[d] else None if self._none[d] else True

    def summary(self) -> AttainmentSummary:
        veto_clear = self._dimension("veto", True)
        resource, government, quality, social, prerequisite = (
            self._dimension(d, None) for d in ATTAINMENT_DIMENSIONS[:5]
        )
        return AttainmentSummary(
            resource_passed=resource,
            government_passed=government,
            quality_passed=quality,
            social_passed=social,
            prerequisite_passed=prerequisite,
            vetoed=None if veto_clear is None else not veto_clear,
            attained=all_of([resource, government, quality, social, prerequisite, veto_clear]),
            failed_items=tuple(sorted(self._failed)),
            undecided_items=tuple(sorted(self._undecided)),
        )


def summarise(verdicts: Mapping[str, bool | None], dimension_of: Mapping[str, str]) -> AttainmentSummary:
    """Combine rule verdicts into the attainment verdict (Kleene AND per dimension)."""
    by_dim: dict[str, list[bool | None]] = {d: [] for d in ATTAINMENT_DIMENSIONS}
    for rid, passed in verdicts.items():
        by_dim[dimension_of[rid]].append(passed)
    veto_clear = all_of(by_dim["veto"])
    vetoed = None if veto_clear is None else not veto_clear
    resource, government, quality, social, prerequisite = (
        all_of(by_dim[d]) if by_dim[d] else None for d in ATTAINMENT_DIMENSIONS[:5]
    )
    attained = all_of([resource, government, quality, social, prerequisite, veto_clear])
    failed = tuple(sorted(rid for rid, p in verdicts.items() if p is False))
    undecided = tuple(sorted(rid for rid, p in verdicts.items() if p is None))
    return AttainmentSummary(
        resource_passed=resource,
        government_passed=government,
        quality_passed=quality,
        social_passed=social,
        prerequisite_passed=prerequisite,
        vetoed=vetoed,
        attained=attained,
        failed_items=failed,
        undecided_items=undecided,
    )
