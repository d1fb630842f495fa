"""dbt seeds generated from the catalogue, so that no threshold is written twice.

    python -m rules.seeds dbt_project/seeds            # write (or refresh) the seed CSVs
    python -m rules.seeds dbt_project/seeds --check    # exit 1 if a committed seed is stale
    python -m rules.seeds DIR --districts other.csv     # another jurisdiction's district list

The warehouse's SQL (dbt_project/) reads every number it compares against from these seeds;
the seeds are rendered from the same `Catalogue` the engine loads, with `JUNHENG_CATALOGUE`
selecting it as for the engine, and the ``districts`` seed from the jurisdiction's list --
``--districts`` or, as everywhere else, ``JUNHENG_DISTRICTS``. ``junheng build`` renders them itself
into each warehouse's own dbt project (junheng/build/project.py); the committed
``dbt_project/seeds`` are the default jurisdiction's, for running dbt by hand. Floats are written with `repr`, so DuckDB parses back the very
double the engine compares with. The seeds' column types are generated too (`_seeds.yml`), so
a seed and its declaration cannot drift apart.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from junheng.settings import settings
from rules.loader import Catalogue, load_catalogue
from rules.logic import RELATIVE_TOLERANCE

# Rule kinds whose parameters have a seed of their own (everything else goes to rule_params).
_OWN_SEED_KINDS = frozenset(
    {"section_indicator", "section_rule", "balance", "city_attainment_share", "district_metric", "year_over_year"}
)


class Seed:
    """One seed: its file name, its columns with their warehouse types and descriptions, rows."""

    def __init__(
        self,
        name: str,
        description: str,
        columns: Sequence[tuple[str, str, str]],
        rows: Iterable[Sequence[Any]],
        unique: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.description = description
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        self.unique = list(unique)
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"seed {name}: row {r} does not have {len(self.columns)} columns")

    def csv_text(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c[0] for c in self.columns])
        for r in self.rows:
            writer.writerow([_cell(v) for v in r])
        return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, int | None, Any]]:
    """A parameter as (name, list index, scalar) rows; mappings become dotted names."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if isinstance(v, (Mapping, list, tuple)):
                yield from _flatten(f"{prefix}[{i}]", v)
            else:
                yield prefix, i, v
    else:
        yield prefix, None, value


def build_seeds(catalogue: Catalogue, districts_csv: Path | None = None) -> list[Seed]:
    rules = list(catalogue.rules.values())
    seeds: list[Seed] = []

    seeds.append(
        Seed(
            "rules",
            "Every rule of the catalogue in force: identity, dimension, scope, kind, clause, severity, years.",
            [
                ("rule_id", "varchar", "rule id of the catalogue (docs/rules.md)"),
                ("position", "integer", "order in the catalogue"),
                ("name_zh", "varchar", "name in Chinese"),
                ("name_en", "varchar", "name in English"),
                ("dimension", "varchar", "resource_allocation, government_guarantee, … city_target, calendar"),
                ("scope", "varchar", "section, school, district or city"),
                ("kind", "varchar", "evaluator kind"),
                ("comparator", "varchar", "comparator, where the rule has one"),
                ("levels", "varchar", "levels the rule has thresholds for, space-separated"),
                ("alias_of", "varchar", "for an alias: the rule whose verdict it repeats"),
                ("clause_document", "varchar", "document key"),
                ("clause_ref", "varchar", "document reference"),
                ("clause_item", "varchar", "article or item"),
                ("clause", "varchar", "citation"),
                ("severity", "varchar", "critical, major or minor"),
                ("in_force_from", "integer", "first year in force"),
                ("in_force_to", "integer", "last year in force (null: open)"),
                ("is_attainment_rule", "boolean", "whether the rule counts towards a district's attainment"),
                ("source_file", "varchar", "catalogue file that defines it"),
            ],
            [
                (
                    r.id,
                    i + 1,
                    r.name_zh,
                    r.name_en,
                    r.dimension,
                    r.scope,
                    r.kind,
                    r.comparator,
                    " ".join(r.levels) or None,
                    r.params.get("rule") if r.kind == "alias" else None,
                    r.clause.document,
                    r.clause.ref,
                    r.clause.item,
                    r.clause.cite(),
                    r.severity,
                    r.in_force_from,
                    r.in_force_to,
                    _is_attainment(r),
                    r.source,
                )
                for i, r in enumerate(rules)
            ],
            unique=["rule_id"],
        )
    )

    indicators = catalogue.section_indicators()
    seeds.append(
        Seed(
            "section_indicator_thresholds",
            "R1–R7: per level, numerator/denominator × scale compared with the threshold.",
            [
                ("indicator", "varchar", "R1 … R7"),
                ("position", "integer", "order of the indicator"),
                ("level", "varchar", "primary or junior"),
                ("numerator", "varchar", "staff or facilities field"),
                ("denominator", "varchar", "always students"),
                ("scale", "double", "100 for per-100-students indicators"),
                ("comparator", "varchar", ">= (or <=)"),
                ("threshold", "double", "the level's threshold"),
                ("unit", "varchar", "unit of the value"),
            ],
            [
                (
                    r.id,
                    i + 1,
                    lv,
                    r.params["numerator"],
                    r.params["denominator"],
                    float(r.params["scale"]),
                    r.comparator,
                    float(r.thresholds[lv]),
                    r.params.get("unit"),
                )
                for i, r in enumerate(indicators)
                for lv in r.levels
            ],
            unique=["indicator", "level"],
        )
    )

    ras = catalogue.of_kind("section_rule")
    seeds.append(
        Seed(
            "ras_params",
            "RA-S: a section passes with at least min_met indicators met and every other one at least "
            "remainder_min_ratio of its threshold.",
            [
                ("rule_id", "varchar", "RA-S"),
                ("indicators", "varchar", "indicators counted, space-separated"),
                ("indicator_count", "integer", "how many"),
                ("min_met", "integer", "indicators that must meet"),
                ("allowed_misses", "integer", "indicator_count − min_met"),
                ("remainder_min_ratio", "double", "minimum value / threshold of a missed indicator"),
            ],
            [
                (
                    r.id,
                    " ".join(r.params["indicators"]),
                    len(r.params["indicators"]),
                    int(r.params["min_met"]),
                    len(r.params["indicators"]) - int(r.params["min_met"]),
                    float(r.params["remainder_min_ratio"]),
                )
                for r in ras
            ],
            unique=["rule_id"],
        )
    )

    cv = catalogue.of_kind("balance")
    seeds.append(
        Seed(
            "ra_cv_thresholds",
            "RA-CV: the enrolment-weighted coefficient of variation of each indicator, per level.",
            [
                ("rule_id", "varchar", "RA-CV"),
                ("level", "varchar", "primary or junior"),
                ("comparator", "varchar", "<="),
                ("threshold", "double", "maximum CV"),
                ("indicators", "varchar", "indicators it applies to, space-separated"),
            ],
            [
                (r.id, lv, r.comparator, float(r.thresholds[lv]), " ".join(r.params["indicators"]))
                for r in cv
                for lv in r.levels
            ],
            unique=["rule_id", "level"],
        )
    )

    check_rows = []
    for r in rules:
        if r.kind not in ("district_metric", "year_over_year"):
            continue
        for i, c in enumerate(r.checks):
            check_rows.append(
                (
                    r.id,
                    r.kind,
                    i + 1,
                    c.input,
                    c.ratio[0] if c.ratio else None,
                    c.ratio[1] if c.ratio else None,
                    float(c.scale),
                    c.comparator,
                    _num(c.threshold),
                    c.threshold_input,
                    c.applies_to_locale,
                )
            )
    seeds.append(
        Seed(
            "district_checks",
            "Checks of district_metric and year_over_year rules; a rule passes when all its checks do. "
            "Inputs are stat.<field> (district.statistics) or sum.<field> (staff summed over schools).",
            [
                ("rule_id", "varchar", "rule id"),
                ("kind", "varchar", "district_metric or year_over_year"),
                ("check_index", "integer", "1, 2, … within the rule"),
                ("input", "varchar", "input compared (no ratio)"),
                ("ratio_numerator", "varchar", "numerator input of a ratio"),
                ("ratio_denominator", "varchar", "denominator input of a ratio"),
                ("scale", "double", "ratio scale (100 for percentages)"),
                ("comparator", "varchar", ">=, >, <=, <, =="),
                ("threshold", "double", "number compared against"),
                ("threshold_input", "varchar", "input compared against instead of a number"),
                (
                    "applies_to_locale",
                    "varchar",
                    "the check applies only where the district has schools of this locale",
                ),
            ],
            check_rows,
            unique=["rule_id", "check_index"],
        )
    )

    milestone_rows = []
    for r in catalogue.of_kind("city_attainment_share"):
        for year, pct in sorted(((int(y), float(p)) for y, p in r.params["milestones"].items())):
            milestone_rows.append((r.id, year, pct, pct / 100.0))
    seeds.append(
        Seed(
            "city_milestones",
            "C1: the share of districts that must have attained by each milestone year.",
            [
                ("rule_id", "varchar", "C1"),
                ("year", "integer", "milestone year"),
                ("target_pct", "double", "percentage of districts"),
                ("target_share", "double", "the same as a share"),
            ],
            milestone_rows,
            unique=["rule_id", "year"],
        )
    )

    param_rows = []
    for r in rules:
        if r.kind in _OWN_SEED_KINDS:
            continue
        items: list[tuple[str, int | None, Any]] = []
        for k, v in r.params.items():
            items += list(_flatten(k, v))
        if r.thresholds:
            items += [(f"thresholds.{lv}", None, t) for lv, t in r.thresholds.items()]
        if r.threshold is not None:
            items.append(("threshold", None, r.threshold))
        for name, index, value in items:
            param_rows.append((r.id, name, index, None if value is None else _cell(value), _num(value)))
    seeds.append(
        Seed(
            "rule_params",
            "Every other rule parameter, one scalar per row (lists: one row per item; mappings: dotted names).",
            [
                ("rule_id", "varchar", "rule id"),
                ("param", "varchar", "parameter name, e.g. max_students.nine_year"),
                ("item_index", "integer", "position in a list parameter (null for a scalar)"),
                ("value_text", "varchar", "the value as text"),
                ("value_number", "double", "the value if it is a number"),
            ],
            param_rows,
        )
    )

    settings = catalogue.settings
    seeds.append(
        Seed(
            "school_sections",
            "Which evaluated sections each school type has (special schools have none).",
            [
                ("school_type", "varchar", "school type of school.registered"),
                ("section", "varchar", "primary or junior"),
                ("position", "integer", "order of the section in the school"),
            ],
            [(t, lv, i + 1) for t, secs in settings["school_sections"].items() for i, lv in enumerate(secs)],
            unique=["school_type", "section"],
        )
    )

    tp = settings.get("teaching_point_min_students")
    plan = settings.get("plan_deadline_year")
    seeds.append(
        Seed(
            "catalogue_settings",
            "The catalogue's settings and the engine's comparison tolerance, one row.",
            [
                ("catalogue", "varchar", "catalogue name"),
                ("catalogue_version", "varchar", "versions of its layers"),
                (
                    "teaching_point_min_students",
                    "integer",
                    "teaching points under this enrolment are left out (null: all in)",
                ),
                ("veto_without_inspection", "varchar", "undecided or clear"),
                ("pre2_enabled", "boolean", "whether PRE-2 is required"),
                ("plan_deadline_year", "integer", "the city plan's final year"),
                ("relative_tolerance", "double", "a value within this relative distance of a threshold is at it"),
            ],
            [
                (
                    catalogue.name,
                    catalogue.version,
                    tp,
                    settings.get("veto_without_inspection"),
                    bool(settings.get("pre2_enabled")),
                    plan,
                    float(RELATIVE_TOLERANCE),
                )
            ],
        )
    )

    seeds.append(_districts_seed(districts_csv))
    return seeds


def _is_attainment(rule: Any) -> bool:
    from rules.district import ATTAINMENT_DIMENSIONS

    return rule.dimension in ATTAINMENT_DIMENSIONS and rule.kind != "section_indicator"


def _districts_seed(path: Path | None) -> Seed:
    from importlib import resources

    source = path or Path(str(resources.files("ingestion.reference") / "districts.csv"))
    with source.open(encoding="utf-8", newline="") as fh:
        rows = [(r["district_code"], r["name_zh"], r["name_en"], r["kind"], r["profile"]) for r in csv.DictReader(fh)]
    return Seed(
        "districts",
        "The jurisdiction's districts (ingestion/reference/districts.csv).",
        [
            ("district_code", "varchar", "GB/T 2260 code"),
            ("name_zh", "varchar", "name in Chinese"),
            ("name_en", "varchar", "name in English"),
            ("kind", "varchar", "district or county-level city"),
            ("profile", "varchar", "urban/rural profile"),
        ],
        rows,
        unique=["district_code"],
    )


def seeds_yaml(seeds: Sequence[Seed], catalogue: Catalogue) -> str:
    """The seeds' properties file: descriptions, exact column types and key tests."""
    out = [
        "# Generated by `python -m rules.seeds dbt_project/seeds` from the catalogue",
        f"# {catalogue.name} ({catalogue.version}); do not edit by hand.",
        "version: 2",
        "",
        "seeds:",
    ]
    for s in seeds:
        out += [f"  - name: {s.name}", f"    description: {_q(s.description)}", "    config:", "      column_types:"]
        out += [f"        {c}: {t}" for c, t, _ in s.columns]
        if len(s.unique) > 1:
            key = " || '|' || ".join(s.unique)
            out += ["    data_tests:", "      - unique:", f'          column_name: "{key}"']
        out.append("    columns:")
        for c, _type, d in s.columns:
            out += [f"      - name: {c}", f"        description: {_q(d)}"]
            if s.unique == [c]:
                out += ["        data_tests: [unique, not_null]"]
            elif c in s.unique:
                out += ["        data_tests: [not_null]"]
    return "\n".join(out) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(catalogue: Catalogue | None = None, districts_csv: Path | None = None) -> dict[str, str]:
    """File name → content of every generated seed file."""
    cat = catalogue or load_catalogue(settings().catalogue)
    seeds = build_seeds(cat, districts_csv)
    files = {f"{s.name}.csv": s.csv_text() for s in seeds}
    files["_seeds.yml"] = seeds_yaml(seeds, cat)
    return files


def stale(folder: Path, files: Mapping[str, str]) -> list[str]:
    """Generated files missing from `folder` or different from what the catalogue renders, and
    CSVs there that the catalogue no longer produces."""
    out = []
    for name, text in files.items():
        p = folder / name
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            out.append(name)
    for p in sorted(folder.glob("*.csv")):
        if p.name not in files:
            out.append(p.name)
    return out


def main(argv: Sequence[str] | None = None, write: Callable[[str], object] = sys.stdout.write) -> int:
    parser = argparse.ArgumentParser(prog="python -m rules.seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the dbt project's seeds folder, e.g. dbt_project/seeds")
    parser.add_argument("--check", action="store_true", help="only report stale seeds (exit 1 if any)")
    parser.add_argument("--catalogue", help="catalogue name or path (default: $JUNHENG_CATALOGUE or qingdao-2021)")
    parser.add_argument(
        "--districts", help="the jurisdiction's district CSV (default: $JUNHENG_DISTRICTS or the packaged Qingdao list)"
    )
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    districts = args.districts or settings().districts
    files = render(load_catalogue(args.catalogue) if args.catalogue else None, Path(districts) if districts else None)
    bad = stale(folder, files)
    if args.check:
        if bad:
            write("stale seeds (run `python -m rules.seeds " + str(folder) + "`): " + ", ".join(bad) + "\n")
            return 1
        write("seeds are current\n")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for name in bad:
        p = folder / name
        if name in files:
            p.write_text(files[name], encoding="utf-8")
        else:
            p.unlink()
    write(f"{len(files)} seed files in {folder}, {len(bad)} written or removed\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
