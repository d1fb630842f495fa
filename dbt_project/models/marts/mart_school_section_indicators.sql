-- One row per school section × year × indicator (R1–R7): the value computed in SQL from the facts,
-- its threshold for the section's level, whether it is met (null: an input is missing, see
-- missing_reason) and value / threshold; the school's name, type and locale and the district's
-- name beside the codes, and the catalogue the thresholds come from.
-- Built incrementally: the changed district-years' rows are replaced (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='changed', on_schema_change='fail') }}
select
    i.district_code,
    coalesce(d.name_zh, i.district_code)     as district_name,
    i.school_id,
    y.school_name,
    y.school_type,
    y.locale,
    i.section,
    i.year,
    i.indicator,
    i.value,
    i.threshold,
    i.met,
    i.ratio_to_threshold,
    i.comparator,
    i.students,
    i.numerator,
    i.numerator_value,
    i.scale,
    i.unit,
    i.included,
    i.missing_reason,
    r.name_en  as indicator_name_en,
    r.name_zh  as indicator_name_zh,
    r.clause,
    s.catalogue,
    s.catalogue_version
from {{ ref('int_section_indicators') }} as i
inner join {{ ref('rules') }} as r on r.rule_id = i.indicator
left join {{ ref('int_school_years') }} as y
    on y.school_id = i.school_id and y.year = i.year and {{ changed('y.district_code', none) }}
left join {{ ref('districts') }} as d on d.district_code = i.district_code
cross join {{ ref('catalogue_settings') }} as s
where {{ changed('i.district_code', none) }}
