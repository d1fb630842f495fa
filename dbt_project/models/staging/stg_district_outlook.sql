-- The engine's outlook per district as last landed (streams/gaps.py): the failing items' trends and
-- projected years, the district's projected year of attainment and whether it is at risk.
-- Keyed by district (an outlook reads every year): a table built incrementally whose changed
-- districts' rows are all recomputed (changed_year '', macros/incremental.sql).
-- depends_on: {{ ref('changed_districts') }}
{{ config(materialized='incremental', incremental_strategy='changed', changed_year='') }}
with landed as (
    select
        district_code,
        year,
        declared_creation_year,
        plan_deadline_year,
        attained,
        projected_year,
        at_risk,
        cast(json(risk_items) as varchar[])    as risk_items,
        cast(json(unprojectable) as varchar[]) as unprojectable,
        cast(items as json)                    as items,
        catalogue_version,
        landed_batch,
        landed_pos,
        cast(landed_at as timestamp) as landed_at,
        landed_file
    from {{ landing_for_model('district_outlook') }}
{%- if is_incremental() %}
    union all
    select district_code, year, declared_creation_year, plan_deadline_year, attained, projected_year, at_risk,
           risk_items, unprojectable, items, catalogue_version, landed_batch, landed_pos, landed_at, landed_file
    from {{ this }}
    where {{ changed('district_code', none) }}
      and landed_file not in (select landed_file from {{ ref('landing_new_files') }})
{%- endif %}
),

ranked as (
    select *, row_number() over (partition by district_code order by landed_batch desc, landed_pos desc) as rn
    from landed
)

select * exclude (rn)
from ranked
where rn = 1
