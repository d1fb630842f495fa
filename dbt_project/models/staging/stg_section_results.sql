-- The engine's section verdicts as last landed: for each school-year, the rows of the latest batch
-- that wrote it (a school that stopped being active leaves one row with section null).
-- A table, built incrementally (macros/incremental.sql): the rows here are each school-year's
-- latest, so the latest of them and of the new files' rows is the latest of all.
-- depends_on: {{ ref('changed_districts') }}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with landed as (
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
        cast(gap_options as json) as gap_options,
        gap_catalogue_version,
        landed_batch,
        landed_pos,
        cast(landed_at as timestamp) as landed_at,
        landed_file
    from {{ landing_for_model('section_results') }}
{%- if is_incremental() %}
    union all
    select district_code, school_id, year, section, active, students, included, indicators_met, passed, reason,
           indicator_values, indicator_met, gap_options, gap_catalogue_version, landed_batch, landed_pos, landed_at, landed_file
    from {{ this }}
    where {{ changed() }}
      and landed_file not in (select landed_file from {{ ref('landing_new_files') }})
{%- endif %}
),

latest as (
    select *, max(landed_batch) over (partition by school_id, year) as latest_batch
    from landed
)

select * exclude (latest_batch)
from latest
where landed_batch = latest_batch
