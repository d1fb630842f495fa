-- RA-S per section (rules/sections.py _ras): fail when more indicators miss than allowed
-- (7 − min_met), or when a missed one is below remainder_min_ratio of its threshold; otherwise
-- undecided while an indicator lacks inputs; else pass. indicators_met counts R1–R7 met.
-- DuckDB's count_if is NULL (not 0) over a group where the condition is NULL on every row -- a
-- section whose every indicator is unknown (no staff and no facilities reported, or no students):
-- hence the coalesces, as the engine counts 0 there.
{{ config(materialized='incremental', incremental_strategy='changed') }}
with params as (
    select
        r.rule_id,
        string_split(r.indicators, ' ') as indicators,
        r.allowed_misses,
        r.remainder_min_ratio,
        s.relative_tolerance
    from {{ ref('ras_params') }} as r
    cross join {{ ref('catalogue_settings') }} as s
),

per_section as (
    select
        i.district_code,
        i.school_id,
        i.year,
        i.section,
        any_value(i.school_type)                                                    as school_type,
        any_value(i.students)                                                       as students,
        any_value(i.included)                                                       as included,
        coalesce(count_if(i.met), 0)                                                as indicators_met,
        coalesce(count_if(i.met = false and list_contains(p.indicators, i.indicator)), 0) as misses,
        coalesce(count_if(i.met is null and list_contains(p.indicators, i.indicator)), 0) as unknown,
        coalesce(count_if(i.met = false and list_contains(p.indicators, i.indicator)
                 and not {{ compare('i.ratio_to_threshold', '>=', 'p.remainder_min_ratio', 'p.relative_tolerance') }}), 0) as misses_too_low,
        string_agg(case when i.met = false and list_contains(p.indicators, i.indicator) then i.indicator end, ', '
                   order by i.indicator_position)                                   as missed_indicators,
        string_agg(case when i.met = false and list_contains(p.indicators, i.indicator)
                             and not {{ compare('i.ratio_to_threshold', '>=', 'p.remainder_min_ratio', 'p.relative_tolerance') }}
                        then i.indicator || ' at ' || printf('%.1f', 100 * i.ratio_to_threshold) || '%' end, ', '
                   order by i.indicator_position)                                   as low_indicators,
        string_agg(case when i.met is null and list_contains(p.indicators, i.indicator) then i.indicator end, ', '
                   order by i.indicator_position)                                   as unknown_indicators,
        any_value(p.rule_id)                                                        as rule_id,
        any_value(p.allowed_misses)                                                 as allowed_misses,
        any_value(p.remainder_min_ratio)                                            as remainder_min_ratio
    from {{ ref('int_section_indicators') }} as i
    cross join params as p
    where {{ changed('i.district_code', none) }}
    group by i.district_code, i.school_id, i.year, i.section
)

select
    district_code,
    school_id,
    year,
    section,
    school_type,
    students,
    included,
    cast(indicators_met as integer) as indicators_met,
    cast(misses as integer)         as indicators_missed,
    cast(unknown as integer)        as indicators_undecided,
    case when misses > allowed_misses then false
         when misses_too_low > 0 then false
         when unknown > 0 then null
         else true end              as passed,
    case when misses > allowed_misses then misses || ' indicators below threshold: ' || missed_indicators
         when misses_too_low > 0 then low_indicators || ' of its threshold, below '
                                      || printf('%.0f', 100 * remainder_min_ratio) || '%'
         when unknown > 0 then 'undecided: ' || unknown_indicators || ' lack inputs' end as reason,
    rule_id
from per_section
