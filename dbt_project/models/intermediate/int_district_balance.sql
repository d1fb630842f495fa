-- RA-CV per district × year × level × indicator, computed from the sections in SQL with the
-- standard's two-pass formula (docs/rules.md, "Exactness of the coefficient of variation"):
--     mean = Σ P·X / Σ P,   S = sqrt( Σ (P/N)·(X − mean)² ),   CV = S / mean
-- over the included sections with students (P > 0) and a value. A level is present when it has an
-- included section with students or with unknown students (rules/district.py levels_present).
-- passed is null when no section carries weight, the mean is zero, or a section with students lacks
-- an input (sections_missing_input > 0): a missing input is never read as a pass or a fail.
{{ config(materialized='incremental', incremental_strategy='changed') }}
with sections as (
    select * from {{ ref('int_section_indicators') }} where included and {{ changed('district_code', none) }}
),

indicators as (
    select distinct c.rule_id, c.level, c.comparator, c.threshold, unnest(string_split(c.indicators, ' ')) as indicator
    from {{ ref('ra_cv_thresholds') }} as c
),

levels_present as (
    select district_code, year, section as level
    from sections
    group by district_code, year, section
    having bool_or(students > 0 or students is null)
),

terms as (
    select district_code, year, section as level, indicator, cast(students as double) as p, value as x
    from sections
    where students > 0 and value is not null
),

missing as (
    select district_code, year, section as level, indicator, count(*) as sections_missing_input
    from sections
    where students > 0 and value is null
    group by all
),

means as (
    select district_code, year, level, indicator,
           count(*) as sections, sum(p) as students, sum(p * x) / sum(p) as weighted_mean
    from terms
    group by all
),

variances as (
    select t.district_code, t.year, t.level, t.indicator,
           sum((t.p / m.students) * (t.x - m.weighted_mean) * (t.x - m.weighted_mean)) as variance
    from terms as t
    inner join means as m using (district_code, year, level, indicator)
    group by all
),

combined as (
    select
        lp.district_code,
        lp.year,
        lp.level,
        i.indicator,
        i.rule_id,
        coalesce(m.sections, 0)                                  as sections,
        cast(coalesce(m.students, 0) as bigint)                  as students,
        m.weighted_mean,
        v.variance,
        case when m.sections is null or m.weighted_mean = 0 then null
             else sqrt(greatest(v.variance, 0)) / m.weighted_mean end as cv,
        i.comparator,
        i.threshold,
        coalesce(ms.sections_missing_input, 0)                   as sections_missing_input
    from levels_present as lp
    inner join indicators as i on i.level = lp.level
    left join means as m
        on m.district_code = lp.district_code and m.year = lp.year and m.level = lp.level and m.indicator = i.indicator
    left join variances as v
        on v.district_code = lp.district_code and v.year = lp.year and v.level = lp.level and v.indicator = i.indicator
    left join missing as ms
        on ms.district_code = lp.district_code and ms.year = lp.year and ms.level = lp.level and ms.indicator = i.indicator
)

select
    c.district_code,
    c.year,
    c.level,
    c.indicator,
    c.rule_id,
    cast(c.sections as integer)               as sections,
    c.students,
    c.weighted_mean,
    c.variance,
    c.cv,
    c.comparator,
    c.threshold,
    cast(c.sections_missing_input as integer) as sections_missing_input,
    case when c.cv is null or c.sections_missing_input > 0 then null
         else {{ compare_dyn('c.cv', 'c.comparator', 'c.threshold') }} end as passed,
    case when c.sections = 0 then 'no section with students and inputs'
         when c.cv is null then 'weighted mean is zero'
         when c.sections_missing_input > 0 then c.sections_missing_input || ' sections lack inputs'
         when not {{ compare_dyn('c.cv', 'c.comparator', 'c.threshold') }}
              then 'CV ' || printf('%.3f', c.cv) || ' above ' || c.threshold end as reason
from combined as c
cross join {{ ref('catalogue_settings') }} as s
