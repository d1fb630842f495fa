-- The districts the new landing files touch, each with the first year whose rows this build
-- recomputes (the models judge a district from its own rows only; a year also reads the years before
-- it -- C3, C5, C11, C12, PRE-2 -- so every later year is recomputed too):
--   * a new registration (school.registered, district.registered): every year, as the registration
--     in force in a year may be one of another year (the latest not after it, else the first);
--   * any other new event, engine section row, district status, gap or outlook row: its year on.
with changed as (
    select district_code,
           case when event_type in ('school.registered', 'district.registered') then 0 else year end as from_year
    from {{ landing_rows('events', 'new') }}
    union all
    select district_code, year from {{ landing_rows('section_results', 'new') }}
    union all
    select district_code, year from {{ landing_rows('district_status', 'new') }}
    union all
    select district_code, year from {{ landing_rows('district_gaps', 'new') }}
    union all   -- an outlook is keyed by district: its rows are recomputed whatever the year
    select district_code, year from {{ landing_rows('district_outlook', 'new') }}
)

select district_code, cast(min(from_year) as integer) as from_year
from changed
where district_code is not null
group by district_code
