"""The marts' GX suites evaluated as SQL on DuckDB, where the marts are.

    outcomes = evaluate_suite(con, suite, parameters, where="district_code in (...)")

Each expectation of a suite's JSON (GX 1.x ``ExpectationSuite``, the declarative source) becomes
SQL over the mart: every row-level expectation of a suite is counted in **one** scan
(``count(*) filter (where ...)`` per expectation), uniqueness in one ``group by`` per expectation,
and only a failed expectation reads its examples (the first ten by the mart's key). Nothing is
loaded into pandas: at national scale (millions of rows per mart) the old path read every mart into
memory (12 GiB) and took minutes; this takes seconds in a few hundred MiB, and a build that changed a
few district-years evaluates only those (``where``).

The semantics are GX's (checked against GX itself by tests/junheng/build/test_marts_checkpoint.py): a
column map expectation counts its rows (``element_count``, after ``row_condition``), ignores null
values (``missing_count``) except for the null expectations, and reports ``unexpected_count`` and
examples; pair and multicolumn expectations skip the rows ``ignore_row_if`` says; uniqueness counts
every row of a duplicated value. An expectation of a type not listed in ``EXPECTATION_TYPES`` is an
error, not a silent pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXPECTATION_TYPES", "Outcome", "SuiteOutcome", "evaluate_suite", "resolve", "sql_literal"]

#: how many failing values / keys an outcome keeps
EXAMPLES = 10


@dataclass
class Outcome:
    """What one expectation found (the fields of a GX validation result)."""

    config: dict[str, Any]  # type, kwargs (parameters resolved), description
    success: bool
    element_count: int | None = None
    missing_count: int | None = None
    unexpected_count: int | None = None
    unexpected_values: list[Any] = field(default_factory=list)
    unexpected_rows: list[dict[str, Any]] = field(default_factory=list)
    observed_value: Any = None
    details: Any = None
    error: str | None = None

    @property
    def type(self) -> str:
        return str(self.config["type"])

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.config.get("kwargs") or {})

    def result(self) -> dict[str, Any]:
        """The ``result`` dict of a GX validation result (what Data Docs render)."""
        if self.error is not None:
            return {}
        if self.unexpected_count is None:
            out: dict[str, Any] = {"observed_value": self.observed_value}
            if self.details is not None:
                out["details"] = self.details
            return out
        elements = self.element_count or 0
        missing = self.missing_count or 0
        nonmissing = elements - missing
        return {
            "element_count": elements,
            "missing_count": missing,
            "missing_percent": 100.0 * missing / elements if elements else None,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": 100.0 * self.unexpected_count / nonmissing if nonmissing else None,
            "unexpected_percent_total": 100.0 * self.unexpected_count / elements if elements else None,
            "unexpected_percent_nonmissing": 100.0 * self.unexpected_count / nonmissing if nonmissing else None,
            "partial_unexpected_list": self.unexpected_values,
            "partial_unexpected_index_list": self.unexpected_rows,
        }


@dataclass
class SuiteOutcome:
    rows: int | None
    outcomes: list[Outcome]
    error: str | None = None  # the mart could not be read at all (with its derived columns)


def ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    """A Python value (from the suite JSON or the catalogue) as a SQL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else f"'{value}'::double"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"no SQL literal for {value!r}")


def resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    """``{"$PARAMETER": name}`` (anywhere in the kwargs) replaced by the parameter's value."""
    if isinstance(value, Mapping):
        if set(value) == {"$PARAMETER"}:
            return parameters[str(value["$PARAMETER"])]
        return {k: resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    return value


def condition_sql(condition: Any) -> str:
    """A GX 1.x row condition (comparison, nullity, and, or) as SQL, with pandas' semantics for
    null: a comparison with null is false, except ``!=`` and ``NOT_IN``, which are true."""
    if condition is None:
        return "true"
    if not isinstance(condition, Mapping):
        raise ValueError(f"row_condition {condition!r}: only GX 1.x condition objects are supported")
    kind = condition.get("type")
    if kind in ("and", "or"):
        parts = [condition_sql(c) for c in condition.get("conditions") or []]
        return "(" + f" {kind} ".join(f"({p})" for p in parts) + ")" if parts else "true"
    column = ident(condition["column"]["name"])
    if kind == "nullity":
        return f"{column} is {'' if condition.get('is_null') else 'not '}null"
    if kind == "comparison":
        op, value = str(condition["operator"]), condition["parameter"]
        if op in ("IN", "NOT_IN"):
            members = ", ".join(sql_literal(v) for v in value) or "null"
            test = f"coalesce({column} in ({members}), false)"
            return test if op == "IN" else f"not {test}"
        if op == "!=":
            return f"{column} is distinct from {sql_literal(value)}"
        if op not in ("==", "<", ">", "<=", ">="):
            raise ValueError(f"row_condition operator {op!r} is not supported")
        return f"coalesce({column} {'=' if op == '==' else op} {sql_literal(value)}, false)"
    raise ValueError(f"row_condition of type {kind!r} is not supported")


# ------------------------------------------------------------------------------- the types
@dataclass(frozen=True)
class MapRule:
    """A row-level expectation as SQL: which rows count, which are missing, which are unexpected,
    and what an example shows."""

    counted: str  # beyond row_condition: the rows it counts (element_count)
    missing: str  # rows among the counted it ignores (null values; ignore_row_if)
    unexpected: str  # rows among the counted, not missing, that break it
    columns: tuple[str, ...]  # the columns it checks (examples show them)
    value: Callable[[Sequence[Any]], Any]  # an example row's checked values → partial_unexpected_list item
    reports_missing: bool = True  # GX reports no missing_count for the null expectations


def _between(kw: Mapping[str, Any]) -> str:
    c = ident(kw["column"])
    parts = []
    if kw.get("min_value") is not None:
        parts.append(f"{c} {'<=' if kw.get('strict_min') else '<'} {sql_literal(kw['min_value'])}")
    if kw.get("max_value") is not None:
        parts.append(f"{c} {'>=' if kw.get('strict_max') else '>'} {sql_literal(kw['max_value'])}")
    if not parts:
        raise ValueError("expect_column_values_to_be_between needs min_value or max_value")
    return " or ".join(parts)


def _in_set(column: str, values: Sequence[Any]) -> str:
    return f"not coalesce({ident(column)} in ({', '.join(sql_literal(v) for v in values) or 'null'}), false)"


def _ignore(kind: str, columns: Sequence[str]) -> str:
    nulls = [f"{ident(c)} is null" for c in columns]
    if kind in ("both_values_are_missing", "all_values_are_missing"):
        return "not (" + " and ".join(nulls) + ")"
    if kind in ("either_value_is_missing", "any_value_is_missing"):
        return "not (" + " or ".join(nulls) + ")"
    if kind == "never":
        return "true"
    raise ValueError(f"ignore_row_if {kind!r} is not supported")


def _ignored(kind: str, columns: Sequence[str]) -> str:
    """The rows ``ignore_row_if`` skips (GX counts them as missing)."""
    return f"not ({_ignore(kind, columns)})"


def _single(v: Sequence[Any]) -> Any:
    return v[0]


def _map_rule(kind: str, kw: Mapping[str, Any]) -> MapRule:
    if kind == "expect_column_values_to_not_be_null":
        c = ident(kw["column"])
        return MapRule("true", "false", f"{c} is null", (kw["column"],), _single, reports_missing=False)
    if kind == "expect_column_values_to_be_null":
        c = ident(kw["column"])
        return MapRule("true", "false", f"{c} is not null", (kw["column"],), _single, reports_missing=False)
    if kind == "expect_column_values_to_be_between":
        return MapRule("true", f"{ident(kw['column'])} is null", _between(kw), (kw["column"],), _single)
    if kind == "expect_column_values_to_be_in_set":
        return MapRule(
            "true", f"{ident(kw['column'])} is null", _in_set(kw["column"], kw["value_set"]), (kw["column"],), _single
        )
    if kind == "expect_column_values_to_not_be_in_set":
        c = ident(kw["column"])
        values = ", ".join(sql_literal(v) for v in kw["value_set"]) or "null"
        return MapRule("true", f"{c} is null", f"coalesce({c} in ({values}), false)", (kw["column"],), _single)
    if kind == "expect_column_pair_values_to_be_in_set":
        a, b = kw["column_A"], kw["column_B"]
        pairs = (
            " or ".join(
                f"({ident(a)} = {sql_literal(x)} and {ident(b)} = {sql_literal(y)})" for x, y in kw["value_pairs_set"]
            )
            or "false"
        )
        return MapRule(
            "true",
            _ignored(kw.get("ignore_row_if", "both_values_are_missing"), (a, b)),
            f"not coalesce({pairs}, false)",
            (a, b),
            tuple,
        )
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = ident(kw["column_A"]), ident(kw["column_B"])
        op = ">=" if kw.get("or_equal") else ">"
        return MapRule(
            "true",
            _ignored(kw.get("ignore_row_if", "both_values_are_missing"), (kw["column_A"], kw["column_B"])),
            f"not coalesce({a} {op} {b}, false)",
            (kw["column_A"], kw["column_B"]),
            tuple,
        )
    if kind == "expect_multicolumn_sum_to_equal":
        cols = list(kw["column_list"])
        total = " + ".join(f"coalesce({ident(c)}, 0)" for c in cols)
        return MapRule(
            "true",
            _ignored(kw.get("ignore_row_if", "all_values_are_missing"), cols),
            f"({total}) is distinct from {sql_literal(kw['sum_total'])}",
            tuple(cols),
            lambda v: dict(zip(cols, v)),
        )
    raise KeyError(kind)


MAP_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_pair_values_to_be_in_set",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_multicolumn_sum_to_equal",
)
UNIQUE_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
TABLE_TYPES = ("expect_table_columns_to_match_set", "expect_table_row_count_to_be_between")
#: every expectation type this evaluator knows; a suite with another one fails its checkpoint
EXPECTATION_TYPES = MAP_TYPES + UNIQUE_TYPES + TABLE_TYPES


# ------------------------------------------------------------------------------- evaluation
class _Relation:
    """The mart as the suite sees it: its columns plus the derived ones, restricted to `where`."""

    def __init__(self, con: Any, mart: str, derived: Mapping[str, str], where: str | None) -> None:
        self.con = con
        extra = "".join(f", ({sql}) as {ident(name)}" for name, sql in derived.items())
        self.sql = f"(select *{extra} from main.{ident(mart)}{f' where {where}' if where else ''})"

    def one(self, sql: str) -> tuple[Any, ...]:
        row = self.con.execute(sql).fetchone()
        assert row is not None
        return tuple(row)

    def all(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql).fetchall()]


def evaluate_suite(
    con: Any, suite: Any, parameters: Mapping[str, Any], where: str | None = None, examples: int = EXAMPLES
) -> SuiteOutcome:
    """Every expectation of `suite` (a :class:`~expectations.marts.checkpoint.MartSuite`) on its
    mart through the DuckDB connection `con`; ``where``: SQL restricting the rows (the changed
    partitions of an incremental build), None for all."""
    rel = _Relation(con, suite.mart, suite.derived_columns, where)
    try:
        columns = [d[0] for d in con.execute(f"select * from {rel.sql} as t limit 0").description]
        (rows,) = rel.one(f"select count(*) from {rel.sql} as t")
    except Exception as exc:  # duckdb.Error: e.g. a derived column naming a column the mart lost
        return SuiteOutcome(None, [], error=f"{type(exc).__name__}: {exc}")
    key = [c for c in suite.key if c in columns]

    configs = []
    for e in suite.expectations:
        kwargs = resolve(dict(e.get("kwargs") or {}), parameters)
        configs.append(
            {"type": e["type"], "kwargs": kwargs, "description": e.get("description"), "meta": e.get("meta") or {}}
        )
    outcomes: list[Outcome | None] = [None] * len(configs)

    # the row-level expectations: one scan for all of them, then examples of the failed ones
    rules: dict[int, tuple[MapRule, str]] = {}
    for i, cfg in enumerate(configs):
        if cfg["type"] in MAP_TYPES:
            try:
                rule = _map_rule(cfg["type"], cfg["kwargs"])
                scope = f"({condition_sql(cfg['kwargs'].get('row_condition'))}) and ({rule.counted})"
            except (KeyError, ValueError, TypeError) as exc:
                outcomes[i] = Outcome(cfg, False, error=f"{type(exc).__name__}: {exc}")
                continue
            rules[i] = (rule, scope)
    counts = _count_all(rel, rules)
    for i, (rule, scope) in rules.items():
        cfg = configs[i]
        if isinstance(counts.get(i), str):
            outcomes[i] = Outcome(cfg, False, error=str(counts[i]))
            continue
        elements, missing, unexpected = counts[i]
        outcome = Outcome(cfg, unexpected == 0, elements, missing if rule.reports_missing else None, unexpected)
        if unexpected:
            _examples(rel, outcome, rule, scope, key, examples)
        outcomes[i] = outcome

    for i, cfg in enumerate(configs):
        if outcomes[i] is not None:
            continue
        try:
            if cfg["type"] in UNIQUE_TYPES:
                outcomes[i] = _unique(rel, cfg, key, examples)
            elif cfg["type"] == "expect_table_columns_to_match_set":
                outcomes[i] = _columns_match(cfg, columns)
            elif cfg["type"] == "expect_table_row_count_to_be_between":
                kw = cfg["kwargs"]
                ok = (kw.get("min_value") is None or rows >= kw["min_value"]) and (
                    kw.get("max_value") is None or rows <= kw["max_value"]
                )
                outcomes[i] = Outcome(cfg, ok, observed_value=rows)
            else:
                outcomes[i] = Outcome(
                    cfg,
                    False,
                    error=f"expectation type {cfg['type']} is not evaluated by "
                    "expectations/marts/sql.py (EXPECTATION_TYPES)",
                )
        except Exception as exc:  # duckdb.Error (a column that is not there), a malformed kwarg
            outcomes[i] = Outcome(cfg, False, error=f"{type(exc).__name__}: {exc}")
    return SuiteOutcome(rows, [o for o in outcomes if o is not None])


def _count_all(rel: _Relation, rules: Mapping[int, tuple[MapRule, str]]) -> dict[int, Any]:
    """(elements, missing, unexpected) per expectation, in one scan; an expectation whose SQL fails
    (a column that is not there) is counted alone, to say which: its entry is then the error."""

    def select(items: Mapping[int, tuple[MapRule, str]]) -> str:
        parts = []
        for rule, scope in items.values():
            parts += [
                f"count(*) filter (where {scope})",
                f"count(*) filter (where ({scope}) and ({rule.missing}))",
                f"count(*) filter (where ({scope}) and not ({rule.missing}) and ({rule.unexpected}))",
            ]
        return f"select {', '.join(parts)} from {rel.sql} as t"

    if not rules:
        return {}
    try:
        row = rel.one(select(rules))
        return {i: tuple(int(v) for v in row[3 * n : 3 * n + 3]) for n, i in enumerate(rules)}
    except Exception:
        out: dict[int, Any] = {}
        for i, item in rules.items():
            try:
                out[i] = tuple(int(v) for v in rel.one(select({i: item})))
            except Exception as exc:
                out[i] = f"{type(exc).__name__}: {exc}"
        return out


def _order(key: Sequence[str]) -> str:
    return f" order by {', '.join(ident(k) for k in key)}" if key else ""


def _examples(rel: _Relation, outcome: Outcome, rule: MapRule, scope: str, key: Sequence[str], n: int) -> None:
    shown = list(key) + [c for c in rule.columns if c not in key]
    rows = rel.all(
        f"select {', '.join(ident(c) for c in shown)} from {rel.sql} as t "
        f"where ({scope}) and not ({rule.missing}) and ({rule.unexpected}){_order(key)} limit {n}"
    )
    outcome.unexpected_rows = [dict(zip(shown, r)) for r in rows]
    picked = [shown.index(c) for c in rule.columns]
    outcome.unexpected_values = [rule.value([r[j] for j in picked]) for r in rows]


def _unique(rel: _Relation, cfg: dict[str, Any], key: Sequence[str], n: int) -> Outcome:
    kw = cfg["kwargs"]
    cols = [kw["column"]] if cfg["type"] == "expect_column_values_to_be_unique" else list(kw["column_list"])
    where = condition_sql(kw.get("row_condition"))
    if cfg["type"] == "expect_column_values_to_be_unique":
        counted, missing = where, f"({where}) and {ident(cols[0])} is null"
    else:
        counted, missing = (
            f"({where}) and ({_ignore(kw.get('ignore_row_if', 'all_values_are_missing'), cols)})",
            "false",
        )
    group = ", ".join(ident(c) for c in cols)
    elements, nulls = rel.one(
        f"select count(*) filter (where {counted}), count(*) filter (where {missing}) from {rel.sql} as t"
    )
    # group by, as pandas' duplicated(), holds nulls equal
    (unexpected,) = rel.one(
        f"select coalesce(sum(n), 0) from (select count(*) as n from {rel.sql} as t "
        f"where ({counted}) and not ({missing}) group by {group} having count(*) > 1)"
    )
    outcome = Outcome(cfg, unexpected == 0, int(elements), int(nulls), int(unexpected))
    if unexpected:
        shown = list(key) + [c for c in cols if c not in key]
        rows = rel.all(
            f"select {', '.join(ident(c) for c in shown)} from (select *, count(*) over "
            f"(partition by {group}) as junheng_n from {rel.sql} as t where ({counted}) and not ({missing})) "
            f"where junheng_n > 1{_order(key)} limit {n}"
        )
        outcome.unexpected_rows = [dict(zip(shown, r)) for r in rows]
        picked = [shown.index(c) for c in cols]
        outcome.unexpected_values = [
            r[picked[0]] if len(cols) == 1 else {c: r[j] for c, j in zip(cols, picked)} for r in rows
        ]
    return outcome


def _columns_match(cfg: dict[str, Any], columns: Sequence[str]) -> Outcome:
    kw = cfg["kwargs"]
    expected = list(kw["column_set"])
    missing = [c for c in expected if c not in columns]
    unexpected = [c for c in columns if c not in expected]
    ok = not missing and (not kw.get("exact_match", True) or not unexpected)
    details = (
        {"mismatched": {k: v for k, v in (("missing", missing), ("unexpected", unexpected)) if v}}
        if (missing or (kw.get("exact_match", True) and unexpected))
        else None
    )
    return Outcome(cfg, ok, observed_value=list(columns), details=details)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
