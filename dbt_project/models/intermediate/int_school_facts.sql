-- The facts in force per school-year, one column per fact type (payloads as JSON).
{{ config(materialized='incremental', incremental_strategy='changed') }}
select
    district_code,
    school_id,
    year,
    any_value(payload) filter (where event_type = 'school.enrolment')  as enrolment,
    any_value(payload) filter (where event_type = 'school.staff')      as staff,
    any_value(payload) filter (where event_type = 'school.facilities') as facilities,
    any_value(payload) filter (where event_type = 'school.finance')    as finance
from {{ ref('stg_events') }}
where is_latest
  and event_type in ('school.enrolment', 'school.staff', 'school.facilities', 'school.finance')
  and {{ changed('district_code', none) }}
group by district_code, school_id, year
