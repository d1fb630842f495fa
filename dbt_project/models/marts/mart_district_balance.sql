-- One row per district × year × level × indicator: the enrolment-weighted coefficient of
-- variation across the district's sections (RA-CV), computed in SQL; the district's name beside its
-- code, and the catalogue judged by.
-- Built incrementally: the changed district-years' rows are replaced (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='changed', on_schema_change='fail') }}
select
    b.district_code,
    coalesce(d.name_zh, b.district_code)      as district_name,
    b.year,
    b.level,
    b.indicator,
    b.sections,
    b.students,
    b.weighted_mean,
    b.cv,
    b.threshold,
    b.passed,
    b.comparator,
    b.sections_missing_input,
    b.reason,
    b.rule_id,
    s.catalogue,
    s.catalogue_version
from {{ ref('int_district_balance') }} as b
left join {{ ref('districts') }} as d on d.district_code = b.district_code
cross join {{ ref('catalogue_settings') }} as s
where {{ changed('b.district_code', none) }}
