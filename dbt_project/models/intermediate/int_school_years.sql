-- The school-years the engine evaluates (a year in which the school has a registration or any of
-- enrolment/staff/facilities/finance), each with the registration in force that year — the latest
-- one not after it, else the first (rules/state.py _School.profile_for) — and whether the school is
-- active: open that year (opened_year <= year < closed_year) and of a type with evaluated sections.
{{ config(materialized='incremental', incremental_strategy='changed') }}
with fact_years as (
    select distinct school_id, year
    from {{ ref('stg_events') }}
    where is_latest
      and event_type in ('school.registered', 'school.enrolment', 'school.staff', 'school.facilities', 'school.finance')
      and {{ changed('district_code', none) }}
),

resolved as (
    select
        fy.school_id,
        fy.year,
        coalesce(max(p.registered_year) filter (where p.registered_year <= fy.year),
                 min(p.registered_year)) as profile_year
    from fact_years as fy
    inner join {{ ref('int_school_profiles') }} as p on p.school_id = fy.school_id and {{ changed('p.district_code', none) }}
    group by fy.school_id, fy.year
),

typed as (
    select distinct school_type from {{ ref('school_sections') }}
)

select
    r.school_id,
    r.year,
    p.district_code,
    r.profile_year,
    p.school_name,
    p.school_type,
    p.locale,
    p.ownership,
    p.boarding,
    p.opened_year,
    p.closed_year,
    (p.opened_year is null or p.opened_year <= r.year) and (p.closed_year is null or r.year < p.closed_year) as is_open,
    (p.opened_year is null or p.opened_year <= r.year) and (p.closed_year is null or r.year < p.closed_year)
        and t.school_type is not null                                                                     as active
from resolved as r
inner join {{ ref('int_school_profiles') }} as p
    on p.school_id = r.school_id and p.registered_year = r.profile_year
left join typed as t on t.school_type = p.school_type
