-- The engine's section verdicts as last landed: for each school-year, the rows of the latest batch
-- that wrote it (a school that stopped being active leaves one row with section null).
with landed as (
    select * from {{ landing('section_results') }}
),

latest as (
    select *, max(landed_batch) over (partition by school_id, year) as latest_batch
    from landed
)

select
    district_code,
    school_id,
    year,
    section,
    active,
    students,
    included,
    indicators_met,
    passed,
    reason,
    cast("values" as json) as indicator_values,
    cast(met as json)      as indicator_met,
    landed_batch,
    landed_pos,
    cast(landed_at as timestamp) as landed_at
from latest
where landed_batch = latest_batch
