-- Every district-scoped rule's verdict per district-year, computed in SQL from the facts and the
-- catalogue seeds, kind by kind as rules/district.py: the attainment rules (RA-S, RA-CV, G*, Q*, SR,
-- PRE, PRE-2, V*) and the city plan's district targets (C2, C3, C5–C9, C11–C13). passed is
-- three-valued: null when an input is missing. For a veto, passed = false means the veto is raised.
with dy as (
    select * from {{ ref('int_district_years') }}
),

settings as (
    select * from {{ ref('catalogue_settings') }}
),

rules as (
    select * from {{ ref('rules') }}
    where is_attainment_rule or (dimension = 'city_target' and scope = 'district')
),

params as (
    select rule_id, param, value_text, value_number from {{ ref('rule_params') }} where item_index is null
),

-- ---------------------------------------------------------------- RA-S (section_rule)
ras_levels as (
    select
        district_code, year, section,
        count_if(students > 0 or students is null)                               as total,
        count_if(students > 0 and passed = false)                                as failed,
        count_if((students > 0 and passed is null) or students is null)          as undecided
    from {{ ref('int_section_status') }}
    where included
    group by district_code, year, section
),

ras as (
    select r.rule_id, l.district_code, l.year,
           {{ all_of(from_counts('l.failed', 'l.undecided', 'l.total')) }} as passed,
           cast(sum(l.failed) as double) as value,
           case when sum(l.failed) > 0 then sum(l.failed) || ' sections fail RA-S'
                when sum(l.undecided) > 0 then 'some sections undecided' end as reason
    from ras_levels as l
    cross join rules as r
    where r.kind = 'section_rule' and l.total > 0
    group by r.rule_id, l.district_code, l.year
),

-- ---------------------------------------------------------------- RA-CV (balance)
cv as (
    select b.rule_id, b.district_code, b.year,
           {{ all_of('b.passed') }} as passed,
           cast(count_if(b.passed = false) as double) as value,
           case when count_if(b.passed = false) > 0
                then 'coefficients above threshold: ' || string_agg(case when b.passed = false then b.level || '/' || b.indicator end, ', ')
                when count_if(b.passed is null) > 0 then 'some coefficients undecided' end as reason
    from {{ ref('int_district_balance') }} as b
    group by b.rule_id, b.district_code, b.year
),

-- ---------------------------------------------------------------- school-level kinds
school_checks as (
    select c.district_code, c.year, r.rule_id,
           case r.kind when 'school_rooms' then c.rooms_ok
                       when 'school_size' then not c.large
                       when 'class_size' then c.class_size_ok
                       when 'small_school_funding' then c.small_funding_ok
           end as ok
    from {{ ref('int_school_checks') }} as c
    inner join rules as r
        on r.kind in ('school_rooms', 'school_size', 'class_size', 'small_school_funding')
       and r.rule_id = (select r2.rule_id from {{ ref('rules') }} as r2 where r2.kind = r.kind order by r2.position limit 1)
    union all
    select c.district_code, c.year, r.rule_id,
           case when f.finance is null then null
                when cast(json_extract_string(f.finance, '$.' || den.value_text) as double) = 0 then null
                else {{ compare_dyn(
                    "sc.value_number * cast(json_extract_string(f.finance, '$.' || num.value_text) as double)
                       / cast(json_extract_string(f.finance, '$.' || den.value_text) as double)",
                    'r.comparator', 'th.value_number', 's.relative_tolerance') }}
           end as ok
    from {{ ref('int_school_checks') }} as c
    inner join {{ ref('int_school_facts') }} as f on f.school_id = c.school_id and f.year = c.year
    inner join rules as r on r.kind = 'school_ratio'
    inner join params as num on num.rule_id = r.rule_id and num.param = 'numerator'
    inner join params as den on den.rule_id = r.rule_id and den.param = 'denominator'
    inner join params as sc on sc.rule_id = r.rule_id and sc.param = 'scale'
    inner join params as th on th.rule_id = r.rule_id and th.param = 'threshold'
    cross join settings as s
),

every_school as (
    select dy.district_code, dy.year, r.rule_id,
           count(sc.rule_id)                                               as total,
           count_if(sc.ok = false)                                         as failed,
           count_if(sc.rule_id is not null and sc.ok is null)              as undecided
    from dy
    cross join rules as r
    left join school_checks as sc on sc.district_code = dy.district_code and sc.year = dy.year and sc.rule_id = r.rule_id
    where r.kind in ('school_rooms', 'school_size', 'class_size', 'small_school_funding', 'school_ratio')
    group by dy.district_code, dy.year, r.rule_id
),

every_school_verdicts as (
    select rule_id, district_code, year,
           {{ from_counts('failed', 'undecided', 'total') }} as passed,
           cast(failed as double) as value,
           case when failed > 0 then failed || ' of ' || total || ' schools fail'
                when undecided > 0 then undecided || ' schools lack inputs'
                when total = 0 then 'no schools reported' end as reason
    from every_school
),

-- ---------------------------------------------------------------- district inputs (stat.*, sum.*)
school_sums as (
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
    group by district_code, year
),

dyi as (
    select dy.*, coalesce(ss.schools, 0) as schools, coalesce(ss.lacking_staff, 0) as lacking_staff,
           coalesce(ss.urban_schools, 0) as urban_schools, coalesce(ss.town_schools, 0) as town_schools,
           coalesce(ss.rural_schools, 0) as rural_schools,
           ss.full_time_teachers, ss.trained_360h_teachers, ss.certified_teachers,
           coalesce(ss.large_classes, 0) as large_classes, coalesce(ss.large_schools, 0) as large_schools,
           coalesce(ss.large_undecided, 0) as large_undecided
    from dy
    left join school_sums as ss on ss.district_code = dy.district_code and ss.year = dy.year
),

checks as (
    select c.*, dyi.district_code, dyi.year, dyi.statistics, dyi.statistics_previous_year,
           dyi.schools, dyi.lacking_staff, dyi.full_time_teachers, dyi.trained_360h_teachers, dyi.certified_teachers,
           case c.applies_to_locale when 'urban' then dyi.urban_schools when 'town' then dyi.town_schools
                                    when 'rural' then dyi.rural_schools end as locale_schools
    from {{ ref('district_checks') }} as c
    inner join rules as r on r.rule_id = c.rule_id
    cross join dyi
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
    select
        *,
        case when kind = 'year_over_year' then input_value
             when ratio_numerator is null then input_value
             when numerator_value is null or denominator_value is null or denominator_value = 0 then null
             else scale * numerator_value / denominator_value end                      as value,
        case when kind = 'year_over_year' then previous_value
             else coalesce(threshold, threshold_input_value) end                       as compared_with
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
),

metric_verdicts as (
    select rule_id, district_code, year,
           {{ all_of('passed') }} as passed,
           any_value(value order by check_index) as value,
           case when {{ all_of('passed') }} is distinct from true then
               string_agg(case when passed = false then coalesce(input, ratio_numerator || '/' || ratio_denominator)
                                   || ' = ' || printf('%.4g', value) || ', needs ' || comparator || ' ' || printf('%.4g', compared_with)
                               when passed is null then coalesce(input, ratio_numerator || '/' || ratio_denominator) || ' unknown' end,
                          '; ' order by check_index) end as reason
    from check_verdicts
    group by rule_id, district_code, year
),

-- ---------------------------------------------------------------- inspections, vetoes, prerequisites
inspections as (
    select district_code, year, json_extract_string(payload, '$.item') as item,
           json_extract_string(payload, '$.result') as result, json_extract_string(payload, '$.note') as note
    from {{ ref('stg_events') }}
    where is_latest and event_type = 'district.inspection'
),

inspection_verdicts as (
    select r.rule_id, dy.district_code, dy.year,
           case when i.result is not null and r.kind = 'inspection' then i.result = 'pass'
                when i.result is not null then i.result <> 'fail'
                when r.kind = 'veto' and st.veto_without_inspection = 'clear' then true
           end as passed,
           cast(null as double) as value,
           case when i.result is null and not (r.kind = 'veto' and st.veto_without_inspection = 'clear') then 'no inspection of ' || item.value_text
                when r.kind = 'inspection' and i.result <> 'pass' then 'inspection failed: ' || coalesce(i.note, '')
                when r.kind = 'veto' and i.result = 'fail' then 'veto raised: ' || coalesce(i.note, '') end as reason
    from dy
    cross join rules as r
    cross join settings as st
    inner join params as item on item.rule_id = r.rule_id and item.param = 'item'
    left join inspections as i on i.district_code = dy.district_code and i.year = dy.year and i.item = item.value_text
    where r.kind in ('inspection', 'veto')
),

prerequisite_verdicts as (
    select r.rule_id, dy.district_code, dy.year,
           case when dy.basic_balance_year is null then null else dy.year - dy.basic_balance_year >= need.value_number end as passed,
           cast(dy.year - dy.basic_balance_year as double) as value,
           case when dy.basic_balance_year is null then 'basic-balance year unknown'
                when dy.year - dy.basic_balance_year < need.value_number
                then 'basic balance only ' || (dy.year - dy.basic_balance_year) || ' years before' end as reason
    from dy
    cross join rules as r
    inner join params as need on need.rule_id = r.rule_id and need.param = 'min_years_since_basic_balance'
    where r.kind = 'prerequisite'
),

history as (
    -- PRE-2 (when the jurisdiction enables it): the comprehensive CV (mean of the level's
    -- coefficients) in each of the `years` years before stayed within the level's threshold
    select r.rule_id, dy.district_code, dy.year, b.year as history_year, b.level,
           case when count_if(b.cv is null) > 0 then null
                else {{ compare('avg(b.cv)', '<=', 'any_value(th.value_number)', 'any_value(st.relative_tolerance)') }} end as passed
    from dy
    cross join rules as r
    cross join settings as st
    inner join params as yrs on yrs.rule_id = r.rule_id and yrs.param = 'years'
    inner join {{ ref('int_district_balance') }} as b
        on b.district_code = dy.district_code and b.year between dy.year - yrs.value_number and dy.year - 1 and b.sections > 0
    inner join params as th on th.rule_id = r.rule_id and th.param = 'thresholds.' || b.level
    where r.kind = 'prerequisite_history' and st.pre2_enabled
    group by r.rule_id, dy.district_code, dy.year, b.year, b.level
),

history_verdicts as (
    select r.rule_id, dy.district_code, dy.year,
           case when not st.pre2_enabled then true
                when count(h.passed) + count_if(h.history_year is not null and h.passed is null) = 0 then null
                else {{ all_of('h.passed') }} end as passed,
           cast(null as double) as value,
           case when not st.pre2_enabled then 'not required here'
                when {{ all_of('h.passed') }} is distinct from true then 'comprehensive CV history not met or unknown' end as reason
    from dy
    cross join rules as r
    cross join settings as st
    left join history as h on h.rule_id = r.rule_id and h.district_code = dy.district_code and h.year = dy.year
    where r.kind = 'prerequisite_history'
    group by r.rule_id, dy.district_code, dy.year, st.pre2_enabled
),

-- ---------------------------------------------------------------- city-plan district targets
large_verdicts as (
    select r.rule_id, dyi.district_code, dyi.year,
           case when dyi.large_classes > 0 or dyi.large_schools > 0 then false
                when dyi.large_undecided > 0 or dyi.schools = 0 then null
                else true end as passed,
           cast(dyi.large_classes + dyi.large_schools as double) as value,
           case when dyi.large_classes > 0 or dyi.large_schools > 0
                then dyi.large_classes || ' large classes and ' || dyi.large_schools || ' large-scale schools remain'
                when dyi.large_undecided > 0 then dyi.large_undecided || ' schools lack enrolment' end as reason
    from dyi
    cross join rules as r
    where r.kind = 'no_large_classes_or_schools'
),

yoy_counts as (
    select district_code, year,
           count_if(c3_prev_large) as c3_base, count_if(c3_resolved) as c3_done, count_if(c3_undecided) as c3_undecided,
           count_if(c3_new_large) as c3_new_large,
           count_if(c5_prev_noncompliant) as c5_base, count_if(c5_fixed) as c5_done, count_if(c5_undecided) as c5_undecided
    from {{ ref('int_school_year_over_year') }}
    group by district_code, year
),

rate_inputs as (
    select r.rule_id, dy.district_code, dy.year, mp.value_number as min_pct,
           case r.kind when 'large_school_reduction' then coalesce(y.c3_base, 0) else coalesce(y.c5_base, 0) end as base,
           case r.kind when 'large_school_reduction' then coalesce(y.c3_done, 0) else coalesce(y.c5_done, 0) end as done,
           case r.kind when 'large_school_reduction' then coalesce(y.c3_undecided, 0) else coalesce(y.c5_undecided, 0) end as undecided,
           case r.kind when 'large_school_reduction' then coalesce(y.c3_new_large, 0) else 0 end as extra_fail
    from dy
    cross join rules as r
    inner join params as mp on mp.rule_id = r.rule_id and mp.param in ('min_resolved_pct', 'min_fixed_pct')
    left join yoy_counts as y on y.district_code = dy.district_code and y.year = dy.year
    where r.kind in ('large_school_reduction', 'compliance_improvement')
),

rate_verdicts as (
    select rule_id, district_code, year,
           case when extra_fail > 0 then false
                when undecided > 0 then null
                when base = 0 then true
                else {{ compare('100.0 * done / base', '>=', 'min_pct', 'st.relative_tolerance') }} end as passed,
           case when extra_fail > 0 or undecided > 0 then null when base = 0 then 100.0 else 100.0 * done / base end as value,
           case when extra_fail > 0 then extra_fail || ' new large-scale schools'
                when undecided > 0 then undecided || ' schools lack last year''s or this year''s data'
                when base > 0 and not {{ compare('100.0 * done / base', '>=', 'min_pct', 'st.relative_tolerance') }}
                then 'only ' || done || ' of ' || base || ' (' || printf('%.0f', 100.0 * done / base) || '%)' end as reason
    from rate_inputs
    cross join settings as st
),

direct as (
    select * from ras
    union all select * from cv
    union all select * from every_school_verdicts
    union all select * from metric_verdicts
    union all select * from inspection_verdicts
    union all select * from prerequisite_verdicts
    union all select * from history_verdicts
    union all select * from large_verdicts
    union all select * from rate_verdicts
),

-- every rule for every district-year (a rule with nothing to judge is undecided), aliases resolved
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
    coalesce(d.passed, a.passed)                                                     as passed,
    coalesce(d.value, a.value)                                                       as value,
    case when d.rule_id is null and a.rule_id is null then
            case when g.kind = 'section_rule' then 'no sections reported'
                 when g.kind = 'balance' then 'no sections reported'
                 else 'nothing to judge' end
         else coalesce(d.reason, a.reason) end                                       as reason,
    -- C2 counts from its deadline: before it, a failure is progress to watch, not a reason to be behind
    case when g.kind = 'no_large_classes_or_schools'
         then g.year >= (select p.value_number from params as p where p.rule_id = g.rule_id and p.param = 'deadline_year')
         else true end                                                               as due
from grid as g
left join direct as d on d.rule_id = g.rule_id and d.district_code = g.district_code and d.year = g.year
left join direct as a on a.rule_id = g.alias_of and a.district_code = g.district_code and a.year = g.year
