-- Every district-scoped rule's verdict per district-year, computed in SQL from the facts and the
-- catalogue seeds, kind by kind as the engine (rules/kinds/): the attainment rules (RA-S, RA-CV, G*,
-- Q*, SR, PRE, PRE-2, V*) and the city plan's district targets (C2, C3, C5–C9, C11–C13). Each kind of
-- the rules seed is judged by its macro rule_kind__<kind> in macros/kinds/<kind>.sql (the contract:
-- macros/rule_kinds.sql); a kind without one stops the build. passed is three-valued: null when an
-- input is missing. For a veto, passed = false means the veto is raised.
{%- set kinds = district_rule_kinds() %}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with dy as (
    select * from {{ ref('int_district_years') }} where {{ changed('district_code', none) }}
),

settings as (
    select * from {{ ref('catalogue_settings') }}
),

rules as (
    select * from {{ ref('rules') }}
    where {{ is_district_rule() }}
),

params as (
    select rule_id, param, value_text, value_number from {{ ref('rule_params') }} where item_index is null
),

-- what the district's active schools add up to per year (rules/contributions.py)
school_totals as (
    select district_code, year,
           count(*)                          as schools,
           count_if(locale = 'urban')        as urban_schools,
           count_if(locale = 'town')         as town_schools,
           count_if(locale = 'rural')        as rural_schools,
           count_if(lacks_staff)             as lacking_staff,
           sum(full_time_teachers)           as full_time_teachers,
           sum(trained_360h_teachers)        as trained_360h_teachers,
           sum(certified_teachers)           as certified_teachers,
           sum(large_classes)                as large_classes,
           count_if(large)                   as large_schools,
           count_if(large is null)           as large_undecided
    from {{ ref('int_school_checks') }}
    where {{ changed('district_code', none) }}
    group by district_code, year
),

-- the district-year as the kinds read it (rules/kinds/base.py DistrictView): its facts and its schools' totals
dyi as (
    select dy.*, coalesce(ss.schools, 0) as schools, coalesce(ss.lacking_staff, 0) as lacking_staff,
           coalesce(ss.urban_schools, 0) as urban_schools, coalesce(ss.town_schools, 0) as town_schools,
           coalesce(ss.rural_schools, 0) as rural_schools,
           ss.full_time_teachers, ss.trained_360h_teachers, ss.certified_teachers,
           coalesce(ss.large_classes, 0) as large_classes, coalesce(ss.large_schools, 0) as large_schools,
           coalesce(ss.large_undecided, 0) as large_undecided
    from dy
    left join school_totals as ss on ss.district_code = dy.district_code and ss.year = dy.year
),

-- ---------------------------------------------------------------- one select per kind
{%- set direct, later = [], [] %}
{%- for kind in kinds %}
{%- set sql = rule_kind(kind) %}
{%- if sql | trim %}
{%- do direct.append(kind) %}

kind_{{ kind }} as (
{{ sql }}
),
{%- else %}
{%- do later.append(kind) %}
{%- endif %}
{%- endfor %}

direct as (
{%- for kind in direct %}
    select rule_id, district_code, year, passed, value, reason, due from kind_{{ kind }}
    {{- '\n    union all' if not loop.last }}
{%- else %}
    select cast(null as varchar) as rule_id, cast(null as varchar) as district_code, cast(null as integer) as year,
           cast(null as boolean) as passed, cast(null as double) as value, cast(null as varchar) as reason,
           cast(null as boolean) as due
    where false
{%- endfor %}
),
{%- for kind in later %}

kind_{{ kind }} as (
{{ rule_kind(kind, judged='direct') }}
),
{%- endfor %}

verdicts as (
    select * from direct
{%- for kind in later %}
    union all
    select rule_id, district_code, year, passed, value, reason, due from kind_{{ kind }}
{%- endfor %}
),

-- every rule for every district-year (a rule with nothing to judge is undecided)
grid as (
    select dy.district_code, dy.year, r.rule_id, r.kind, r.dimension, r.alias_of, r.severity, r.clause,
           r.in_force_from, r.in_force_to
    from dy
    cross join rules as r
)

select
    g.district_code,
    g.year,
    g.rule_id,
    g.kind,
    g.dimension,
    g.alias_of,
    g.severity,
    g.clause,
    g.year >= g.in_force_from and (g.in_force_to is null or g.year <= g.in_force_to) as in_force,
    v.passed,
    v.value,
    case when v.rule_id is null then 'nothing to judge' else v.reason end            as reason,
    -- false where a failure does not count yet (C2 before its deadline)
    case when v.rule_id is null then true else v.due end                             as due
from grid as g
left join verdicts as v on v.rule_id = g.rule_id and v.district_code = g.district_code and v.year = g.year
