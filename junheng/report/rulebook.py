"""What the report needs of the rules catalogue: each rule's names, checks and parameters.

The published marts hold verdicts and reason strings but not the catalogue (a BI connection sees the
marts only), so the report reads the catalogue the marts were judged with (their `catalogue` column)
from `rules/catalogue/`. A catalogue that cannot be loaded leaves the report with rule ids only,
never without a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.model import Check, Rule

__all__ = ["RuleBook", "load_rulebook"]


@dataclass
class RuleBook:
    """Rules by id; `aliases` resolved (C7 judges with G11's checks), names bilingual."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    name: str = ""

    def names(self, rule_id: str) -> tuple[str, str]:
        """(name_zh, name_en), or ("", "") for an id the catalogue does not hold (RA-S, DCY …)."""
        rule = self.rules.get(rule_id)
        if rule is not None:
            return rule.name_zh, rule.name_en
        return _EXTRA_NAMES.get(rule_id, ("", ""))

    def resolved(self, rule_id: str) -> Rule | None:
        """The rule that judges `rule_id`: itself, or the rule an alias points at."""
        rule = self.rules.get(rule_id)
        seen = set()
        while rule is not None and rule.kind == "alias" and rule.id not in seen:
            seen.add(rule.id)
            rule = self.rules.get(str(rule.params.get("rule")))
        return rule

    def check_for(self, rule_id: str, label: str) -> Check | None:
        """The check of `rule_id` whose input (or `a/b` ratio) the engine printed as `label`."""
        rule = self.resolved(rule_id)
        for c in rule.checks if rule is not None else ():
            if (c.input and c.input == label) or (c.ratio and "/".join(c.ratio) == label):
                return c
        return None

    def param(self, rule_id: str, *names: str) -> Any:
        """The first of `names` among the (resolved) rule's params."""
        rule = self.resolved(rule_id)
        params: Mapping[str, Any] = rule.params if rule is not None else {}
        return next((params[n] for n in names if n in params), None)


# ids that are not catalogue rules but appear in the marts' item lists and reasons
_EXTRA_NAMES = {
    "DCY": ("申报创建年度", "declared creation year"),
}


def load_rulebook(catalogue: str | None) -> RuleBook:
    """The catalogue named by the marts (default the project's), or an empty book if it cannot load."""
    try:
        from rules import load_catalogue

        cat = load_catalogue(catalogue) if catalogue else load_catalogue()
        return RuleBook(rules=dict(cat.rules), name=cat.name)
    except Exception:  # noqa: BLE001 -- names are a nicety; the verdicts come from the marts
        return RuleBook()
