-- The district-years the engine judges (a year with an active school, district.statistics or an
-- inspection), with the district.registered in force (latest not after the year, else the first),
-- that year's and the previous year's statistics, and the number of active schools.
{{ config(materialized='incremental', incremental_strategy='changed') }}
with years as (
    select district_code, year from {{ ref('int_school_years') }} where active and {{ changed('district_code', none) }}
    union
    select district_code, year from {{ ref('stg_events') }}
    where is_latest and event_type in ('district.statistics', 'district.inspection') and {{ changed('district_code', none) }}
),

profiles as (
    select district_code, year as registered_year, payload
    from {{ ref('stg_events') }}
    where is_latest and event_type = 'district.registered' and {{ changed('district_code', none) }}
),

profile_years as (
    select y.district_code, y.year,
           coalesce(max(p.registered_year) filter (where p.registered_year <= y.year), min(p.registered_year)) as profile_year
    from years as y
    left join profiles as p on p.district_code = y.district_code
    group by y.district_code, y.year
),

stats as (
    select district_code, year, payload
    from {{ ref('stg_events') }}
    where is_latest and event_type = 'district.statistics' and {{ changed('district_code', none) }}
),

schools as (
    select district_code, year, count(*) as active_schools
    from {{ ref('int_school_years') }}
    where active and {{ changed('district_code', none) }}
    group by district_code, year
)

select
    py.district_code,
    py.year,
    py.profile_year,
    json_extract_string(p.payload, '$.name')                                       as district_name_reported,
    cast(json_extract_string(p.payload, '$.basic_balance_year') as integer)        as basic_balance_year,
    cast(json_extract_string(p.payload, '$.declared_creation_year') as integer)    as declared_creation_year,
    s.payload                                                                      as statistics,
    sp.payload                                                                     as statistics_previous_year,
    coalesce(sc.active_schools, 0)                                                 as active_schools
from profile_years as py
left join profiles as p on p.district_code = py.district_code and p.registered_year = py.profile_year
left join stats as s on s.district_code = py.district_code and s.year = py.year
left join stats as sp on sp.district_code = py.district_code and sp.year = py.year - 1
left join schools as sc on sc.district_code = py.district_code and sc.year = py.year
