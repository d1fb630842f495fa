-- The engine's attainment summary per district-year as last landed.
with landed as (
    select * from {{ landing('district_status') }}
),

ranked as (
    select *, row_number() over (partition by district_code, year order by landed_batch desc, landed_pos desc) as rn
    from landed
)

select
    district_code,
    year,
    resource_passed,
    government_passed,
    quality_passed,
    social_passed,
    prerequisite_passed,
    vetoed,
    attained,
    cast(json(failed_items) as varchar[])    as failed_items,
    cast(json(undecided_items) as varchar[]) as undecided_items,
    previous_attained,
    landed_batch,
    landed_pos,
    cast(landed_at as timestamp) as landed_at
from ranked
where rn = 1
