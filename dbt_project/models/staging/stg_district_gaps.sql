-- The engine's gap to pass per district-year as last landed (streams/gaps.py): the failing
-- coefficients' greedy plans and the failing items, as JSON.
-- A table, built incrementally (macros/incremental.sql): the rows here are each district-year's
-- latest, so the latest of them and of the new files' rows is the latest of all.
-- depends_on: {{ ref('changed_districts') }}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with landed as (
    select
        district_code,
        year,
        cast(balance as json) as balance,
        cast(items as json)   as items,
        catalogue_version,
        landed_batch,
        landed_pos,
        cast(landed_at as timestamp) as landed_at,
        landed_file
    from {{ landing_for_model('district_gaps') }}
{%- if is_incremental() %}
    union all
    select district_code, year, balance, items, catalogue_version, landed_batch, landed_pos, landed_at, landed_file
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
