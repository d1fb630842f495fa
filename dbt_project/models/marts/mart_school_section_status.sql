-- One row per school section × year: its students, how many of R1–R7 it meets and its RA-S verdict
-- computed in SQL, beside the verdict the engine landed (engine_passed) for reconciliation; the
-- school's name, type and locale and the district's name beside the codes, and the catalogue judged by.
-- Built incrementally: the changed district-years' rows are replaced (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='changed', on_schema_change='fail') }}
with engine as (
    select school_id, year, section, passed, indicators_met
    from {{ ref('stg_section_results') }}
    where active and {{ changed('district_code', none) }}
)

select
    s.district_code,
    coalesce(d.name_zh, s.district_code)      as district_name,
    s.school_id,
    y.school_name,
    s.section,
    s.year,
    s.students,
    s.indicators_met,
    s.passed,
    s.school_type,
    y.locale,
    s.included,
    s.indicators_missed,
    s.indicators_undecided,
    s.reason,
    s.rule_id,
    e.passed                                  as engine_passed,
    e.school_id is not null                   as engine_reported,
    c.catalogue,
    c.catalogue_version
from {{ ref('int_section_status') }} as s
left join {{ ref('int_school_years') }} as y
    on y.school_id = s.school_id and y.year = s.year and {{ changed('y.district_code', none) }}
left join engine as e on e.school_id = s.school_id and e.year = s.year and e.section = s.section
left join {{ ref('districts') }} as d on d.district_code = s.district_code
cross join {{ ref('catalogue_settings') }} as c
where {{ changed('s.district_code', none) }}
