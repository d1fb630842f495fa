-- The engine's attainment summary per district-year as last landed.
-- A table, built incrementally (macros/incremental.sql): the rows here are each district-year's
-- latest, so the latest of them and of the new files' rows is the latest of all.
-- depends_on: {{ ref('changed_districts') }}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with landed as (
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
        cast(landed_at as timestamp) as landed_at,
        landed_file
    from {{ landing_for_model('district_status') }}
{%- if is_incremental() %}
    union all
    select district_code, year, resource_passed, government_passed, quality_passed, social_passed,
           prerequisite_passed, vetoed, attained, failed_items, undecided_items, previous_attained,
           landed_batch, landed_pos, landed_at, landed_file
    from {{ this }}
    where {{ changed() }}
      and landed_file not in (select landed_file from {{ ref('landing_new_files') }})
{%- endif %}
),

ranked as (
    select *, row_number() over (partition by district_code, year order by landed_batch desc, landed_pos desc) as rn
    from landed
)

select * exclude (rn)
from ranked
where rn = 1
