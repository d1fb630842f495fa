-- One row per district × year × failing item with a distance to pass (issue #13, item 2), from the
-- rules engine (rules/gap_district.py, landed per district-year: streams/gaps.py):
--   * kind 'balance': a coefficient of variation (RA-CV, per level and indicator) above its threshold,
--     the reduction needed, the schools contributing most to the spread and the greedy plan (bring
--     the worst contributor to the weighted mean, repeat) with the coefficient it ends at;
--   * kind 'item': a failing government, quality or social item, its distance to the threshold in
--     the rule's unit.
-- sql_value and sql_passed are the SQL's own figures for the same item (int_district_balance's CV,
-- int_district_rule_verdicts' value); dbt's tests require them to agree with the engine's
-- (tests/assert_district_gaps_match_sql.sql).
-- Built incrementally: the changed district-years' rows are replaced (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='changed', on_schema_change='fail') }}
with gaps as (
    select * from {{ ref('stg_district_gaps') }} where {{ changed('district_code', none) }}
),

balance as (
    select district_code, year, catalogue_version, unnest(cast(balance as json[])) as p from gaps
),

balance_rows as (
    select
        b.district_code, b.year, b.catalogue_version, 'balance' as kind, r.rule_id,
        p ->> 'level' as level, p ->> 'indicator' as indicator,
        cast(p ->> 'cv' as double)               as value,
        cast(p ->> 'threshold' as double)        as threshold,
        '<='                                     as comparator,
        cast(p ->> 'reduction_needed' as double) as distance,
        'coefficient of variation'               as unit,
        (select string_agg(c[1] || ' ' || round(100 * cast(c[2] as double), 1) || '%', ', ')
         from (select unnest(cast(p -> 'contributors' as varchar[][])) as c))           as top_contributors,
        cast(json_array_length(p -> 'steps') as integer)                              as plan_steps,
        (select string_agg((s ->> 'school_id') || ': ' || round(cast(s ->> 'value_before' as double), 4)
                           || ' → ' || round(cast(s ->> 'value_after' as double), 4), '; ')
         from (select unnest(cast(p -> 'steps' as json[])) as s))                     as plan_text,
        cast(p ->> 'resulting_cv' as double)     as plan_resulting_value,
        cast(p ->> 'passes' as boolean)          as plan_passes
    from balance as b
    cross join (select min(rule_id) as rule_id from {{ ref('ra_cv_thresholds') }}) as r
),

items as (
    select district_code, year, catalogue_version, unnest(cast(items as json[])) as i from gaps
),

item_rows as (
    select
        district_code, year, catalogue_version, 'item' as kind, i ->> 'rule_id' as rule_id,
        cast(null as varchar) as level, cast(null as varchar) as indicator,
        cast(i ->> 'value' as double)     as value,
        cast(i ->> 'threshold' as double) as threshold,
        i ->> 'comparator'                as comparator,
        cast(i ->> 'distance' as double)  as distance,
        i ->> 'unit'                      as unit,
        cast(null as varchar) as top_contributors, cast(null as integer) as plan_steps,
        cast(null as varchar) as plan_text, cast(null as double) as plan_resulting_value,
        cast(null as boolean) as plan_passes
    from items
),

unioned as (
    select * from balance_rows
    union all
    select * from item_rows
)

select
    u.district_code,
    coalesce(d.name_zh, u.district_code)                       as district_name,
    u.year,
    case when u.kind = 'balance' then u.rule_id || ' ' || u.level || ' ' || u.indicator else u.rule_id end
                                                               as item,
    u.kind,
    u.rule_id,
    r.name_zh                                                  as rule_name_zh,
    r.name_en                                                  as rule_name_en,
    r.dimension,
    u.level,
    u.indicator,
    u.value,
    u.threshold,
    u.comparator,
    u.distance,
    u.unit,
    u.top_contributors,
    u.plan_steps,
    u.plan_text,
    u.plan_resulting_value,
    u.plan_passes,
    coalesce(b.cv, v.value)                                    as sql_value,
    coalesce(b.passed, v.passed)                               as sql_passed,
    u.catalogue_version                                        as engine_catalogue_version,
    c.catalogue,
    c.catalogue_version
from unioned as u
left join {{ ref('rules') }} as r on r.rule_id = u.rule_id
left join {{ ref('int_district_balance') }} as b
    on u.kind = 'balance' and b.district_code = u.district_code and b.year = u.year and b.level = u.level
   and b.indicator = u.indicator and {{ changed('b.district_code', none) }}
left join {{ ref('int_district_rule_verdicts') }} as v
    on u.kind = 'item' and v.district_code = u.district_code and v.year = u.year and v.rule_id = u.rule_id
   and {{ changed('v.district_code', none) }}
left join {{ ref('districts') }} as d on d.district_code = u.district_code
cross join {{ ref('catalogue_settings') }} as c
