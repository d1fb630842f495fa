-- One row per failing school section × year × option × indicator change: what the section must get
-- to pass RA-S (issue #13, item 2). The options are the rules engine's (rules/gap.py, exact
-- arithmetic, landed beside each section row: streams/gaps.py); each option is a minimal set of
-- indicator changes, holding enrolment and the other indicators fixed. Beside the engine's numbers,
-- the SQL re-derives what the addition does: the section's indicator as int_section_indicators
-- computes it, plus the addition's share per student (sql_value_after), against the target the
-- seeds give (sql_target_value: the threshold, or the 85 % floor for the one indicator allowed to
-- miss); dbt's tests require both to agree (tests/assert_gap_options_reach_target.sql) and every
-- failing section to have an option (tests/assert_failing_sections_have_options.sql).
-- Built incrementally: the changed district-years' rows are replaced (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='changed', on_schema_change='fail') }}
with options as (
    select r.district_code, r.school_id, r.year, r.section, r.gap_catalogue_version,
           unnest(cast(r.gap_options as json[])) as opt
    from {{ ref('stg_section_results') }} as r
    where r.active and r.gap_options is not null and {{ changed('r.district_code', none) }}
),

changes as (
    select district_code, school_id, year, section, gap_catalogue_version,
           cast(opt ->> 'option_id' as integer)          as option_id,
           json_array_length(opt -> 'changes')            as option_changes,
           unnest(cast(opt -> 'changes' as json[]))       as ch
    from options
),

flat as (
    select district_code, school_id, year, section, gap_catalogue_version, option_id,
           cast(option_changes as integer) as option_changes,
           ch ->> 'indicator'                             as indicator,
           ch ->> 'input'                                 as input,
           ch ->> 'unit'                                  as unit,
           cast(ch ->> 'current_value' as double)         as current_value,
           cast(ch ->> 'target_value' as double)          as target_value,
           cast(ch ->> 'to_floor' as boolean)             as to_floor,
           cast(ch ->> 'current_input' as double)         as current_input,
           cast(ch ->> 'addition' as double)              as addition,
           cast(ch ->> 'share' as double)                 as input_share
    from changes
)

select
    f.district_code,
    coalesce(d.name_zh, f.district_code)                   as district_name,
    f.school_id,
    y.school_name,
    f.section,
    f.year,
    f.option_id,
    f.option_changes,
    f.indicator,
    f.current_value,
    f.target_value,
    f.to_floor,
    f.addition,
    f.input,
    f.unit,
    f.current_input,
    f.current_input + f.addition                           as input_after,
    f.input_share,
    i.students,
    i.value                                                as sql_current_value,
    i.value + i.scale * f.addition * coalesce(f.input_share, 1.0) / i.students
                                                           as sql_value_after,
    case when f.to_floor then i.threshold * p.remainder_min_ratio else i.threshold end
                                                           as sql_target_value,
    f.gap_catalogue_version                                as engine_catalogue_version,
    c.catalogue,
    c.catalogue_version
from flat as f
left join {{ ref('int_section_indicators') }} as i
    on i.school_id = f.school_id and i.year = f.year and i.section = f.section and i.indicator = f.indicator
   and {{ changed('i.district_code', none) }}
left join {{ ref('int_school_years') }} as y
    on y.school_id = f.school_id and y.year = f.year and {{ changed('y.district_code', none) }}
left join {{ ref('districts') }} as d on d.district_code = f.district_code
cross join {{ ref('ras_params') }} as p
cross join {{ ref('catalogue_settings') }} as c
