{# The district rule kinds in SQL, as rules/kinds/ in Python: each kind of district rule has one
   macro, rule_kind__<kind>(judged) in macros/kinds/<kind>.sql, and int_district_rule_verdicts.sql
   calls the macro of every kind the catalogue uses (the rules seed). A kind macro is a select of
   (rule_id, district_code, year, passed, value, reason, due) for every rule of its kind and every
   district-year, or for fewer (a rule-year without a row is undecided: 'nothing to judge'); `due`
   is false where a failure does not yet count (C2 before its deadline), else true. It may read the
   model's CTEs dy (the district-years and their facts), dyi (dy with its schools' totals), rules,
   params and settings, and any ref(). dy holds only the district-years an incremental build
   recomputes; a ref() it reads whole should be restricted to their districts with
   {{ changed('alias.district_code', none) }} (macros/incremental.sql: `true` on a full build), or
   it costs a whole-table scan every build.

   `judged` is none, or the name of a relation holding the verdicts of every other kind: a kind
   that repeats other rules' verdicts (alias) returns '' when `judged` is none, and is then called
   again, after the others, with their verdicts. #}

{# The rules judged per district-year: the attainment rules and the city plan's district targets. #}
{% macro is_district_rule(r='') -%}
    ({{ r }}is_attainment_rule or ({{ r }}dimension = 'city_target' and {{ r }}scope = 'district'))
{%- endmacro %}

{# The kinds of the catalogue's district rules (read from the rules seed), each with its macro; a
   kind without one stops the build here. At parse time (no warehouse to read) every kind macro of
   the project, so that dbt sees every ref() they make. #}
{% macro district_rule_kinds() %}
    {%- set macros = [] -%}
    {%- for name in context.keys() | sort if name.startswith('rule_kind__') -%}
        {%- do macros.append(name[11:]) -%}
    {%- endfor -%}
    {%- if not execute -%}
        {{ return(macros) }}
    {%- endif -%}
    {%- set found = run_query("select distinct kind from " ~ ref('rules') ~ " where " ~ is_district_rule() ~ " order by kind") -%}
    {%- set kinds = found.columns[0].values() | list -%}
    {%- for kind in kinds if kind not in macros -%}
        {{ exceptions.raise_compiler_error("rule kind '" ~ kind ~ "' of the rules seed has no SQL macro: write rule_kind__"
            ~ kind ~ "(judged) in dbt_project/macros/kinds/" ~ kind ~ ".sql (docs/rules.md, Adding a rule kind)") }}
    {%- endfor -%}
    {{ return(kinds) }}
{% endmacro %}

{# The select of one kind (see above). #}
{% macro rule_kind(kind, judged=none) -%}
    {{ return(context['rule_kind__' ~ kind](judged)) }}
{%- endmacro %}

{# ---------------------------------------------------------------- shared by several kinds #}

{# A rule every school must pass (school_rooms, school_size, class_size, small_school_funding,
   school_ratio), from `school_checks`: a select of (district_code, year, rule_id, ok), one row per
   active school and rule it judges. No school at all is undecided. #}
{% macro every_school_verdicts(kind, school_checks) %}
    select rule_id, district_code, year,
           {{ from_counts('failed', 'undecided', 'total') }} as passed,
           cast(failed as double) as value,
           case when failed > 0 then failed || ' of ' || total || ' schools fail'
                when undecided > 0 then undecided || ' schools lack inputs'
                when total = 0 then 'no schools reported' end as reason,
           true as due
    from (
        select dy.district_code, dy.year, r.rule_id,
               count(sc.rule_id)                                               as total,
               count_if(sc.ok = false)                                         as failed,
               count_if(sc.rule_id is not null and sc.ok is null)              as undecided
        from dy
        cross join rules as r
        left join ({{ school_checks }}) as sc
            on sc.district_code = dy.district_code and sc.year = dy.year and sc.rule_id = r.rule_id
        where r.kind = '{{ kind }}'
        group by dy.district_code, dy.year, r.rule_id
    )
{% endmacro %}

{# The checks of the district_checks seed for rules of `kind` (district_metric, year_over_year),
   each a `value` compared with `compared_with` (SQL over the resolved inputs: input_value,
   numerator_value, denominator_value, threshold_input_value, previous_value and the seed's columns);
   a rule passes when all of its checks do. #}
{% macro district_checks_verdicts(kind, value, compared_with) %}
    with checks as (
        select c.*, dyi.district_code, dyi.year, dyi.statistics, dyi.statistics_previous_year,
               dyi.schools, dyi.lacking_staff, dyi.full_time_teachers, dyi.trained_360h_teachers, dyi.certified_teachers,
               case c.applies_to_locale when 'urban' then dyi.urban_schools when 'town' then dyi.town_schools
                                        when 'rural' then dyi.rural_schools end as locale_schools
        from {{ ref('district_checks') }} as c
        inner join rules as r on r.rule_id = c.rule_id
        cross join dyi
        where c.kind = '{{ kind }}'
    ),

    resolved as (
        select
            *,
            {{ resolve_input('input') }}             as input_value,
            {{ resolve_input('ratio_numerator') }}   as numerator_value,
            {{ resolve_input('ratio_denominator') }} as denominator_value,
            {{ resolve_input('threshold_input') }}   as threshold_input_value,
            case when starts_with(input, 'stat.')
                 then cast(json_extract_string(statistics_previous_year, '$.' || substr(input, 6)) as double) end as previous_value
        from checks
    ),

    check_values as (
        select *, {{ value }} as value, {{ compared_with }} as compared_with
        from resolved
    ),

    check_verdicts as (
        select
            *,
            -- a check for a locale the district has no school of is met as not applicable
            case when applies_to_locale is not null and locale_schools = 0 and schools > 0 then true
                 when applies_to_locale is not null and locale_schools = 0 then null
                 when value is null or compared_with is null then null
                 else {{ compare_dyn('value', 'comparator', 'compared_with', 'st.relative_tolerance') }} end as passed
        from check_values
        cross join settings as st
    )

    select rule_id, district_code, year,
           {{ all_of('passed') }} as passed,
           -- as the engine (rules/kinds/district_metric.py): the first failing check's value, else the first known
           coalesce(any_value(value order by check_index) filter (where passed = false),
                    any_value(value order by check_index)) as value,
           case when {{ all_of('passed') }} is distinct from true then
               string_agg(case when passed = false then coalesce(input, ratio_numerator || '/' || ratio_denominator)
                                   || ' = ' || printf('%.4g', value) || ', needs ' || comparator || ' ' || printf('%.4g', compared_with)
                               when passed is null then coalesce(input, ratio_numerator || '/' || ratio_denominator) || ' unknown' end,
                          '; ' order by check_index) end as reason,
           true as due
    from check_verdicts
    group by rule_id, district_code, year
{% endmacro %}

{# The district's latest inspection of each item per year (inspection, veto). #}
{% macro district_inspections() %}
    select district_code, year, json_extract_string(payload, '$.item') as item,
           json_extract_string(payload, '$.result') as result, json_extract_string(payload, '$.note') as note
    from {{ ref('stg_events') }}
    where is_latest and event_type = 'district.inspection' and {{ changed('district_code', none) }}
{% endmacro %}

{# A share of a base counted over the district's schools from int_school_year_over_year (C3, C5):
   `done` of `base` at least the rule's param `min_param` %, no school `undecided`, and no school
   `extra_fail` (a column, or none). An empty base meets it. #}
{% macro rate_verdicts(kind, min_param, base, done, undecided, extra_fail=none) %}
    with counts as (
        select district_code, year,
               count_if({{ base }}) as base, count_if({{ done }}) as done, count_if({{ undecided }}) as undecided,
               {{ 'count_if(' ~ extra_fail ~ ')' if extra_fail else '0' }} as extra_fail
        from {{ ref('int_school_year_over_year') }}
        where {{ changed('district_code', none) }}
        group by district_code, year
    ),

    inputs as (
        select r.rule_id, dy.district_code, dy.year, mp.value_number as min_pct,
               coalesce(y.base, 0) as base, coalesce(y.done, 0) as done,
               coalesce(y.undecided, 0) as undecided, coalesce(y.extra_fail, 0) as extra_fail
        from dy
        cross join rules as r
        inner join params as mp on mp.rule_id = r.rule_id and mp.param = '{{ min_param }}'
        left join counts as y on y.district_code = dy.district_code and y.year = dy.year
        where r.kind = '{{ kind }}'
    )

    select rule_id, district_code, year,
           case when extra_fail > 0 then false
                when undecided > 0 then null
                when base = 0 then true
                else {{ compare('100.0 * done / base', '>=', 'min_pct', 'st.relative_tolerance') }} end as passed,
           case when extra_fail > 0 or undecided > 0 then null when base = 0 then 100.0 else 100.0 * done / base end as value,
           case when extra_fail > 0 then extra_fail || ' new large-scale schools'
                when undecided > 0 then undecided || ' schools lack last year''s or this year''s data'
                when base > 0 and not {{ compare('100.0 * done / base', '>=', 'min_pct', 'st.relative_tolerance') }}
                then 'only ' || done || ' of ' || base || ' (' || printf('%.0f', 100.0 * done / base) || '%)' end as reason,
           true as due
    from inputs
    cross join settings as st
{% endmacro %}
