-- Every applied event, typed, with its fact key (docs/events.md "Versioning and fact_key") and
-- whether it is the version in force: the highest seq per fact key, the first landed on ties.
-- A table, built incrementally (macros/incremental.sql): the new landing files' events, and the
-- events already here of the district-years they change, ranked again together. A fact belongs to
-- one district and year (a school's events from another district are dead-lettered), so its
-- versions are all among them.
-- depends_on: {{ ref('changed_districts') }}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with landed as (
    select * from {{ landing_for_model('events') }}
),

typed as (
    select
        event_id,
        event_type,
        schema_version,
        cast(occurred_at as timestamptz)                    as occurred_at,
        source,
        district_code,
        school_id,
        year,
        seq,
        cast(payload as json)                               as payload,
        case event_type
            when 'district.inspection' then json_extract_string(payload, '$.item')
            when 'district.milestone'  then json_extract_string(payload, '$.kind')
            when 'school.project'      then json_extract_string(payload, '$.kind')
            else ''
        end                                                 as fact_subkey,
        landed_batch,
        landed_pos,
        cast(landed_at as timestamp)                        as landed_at,
        landed_file
    from landed
),

{%- if is_incremental() %}

-- the events of the changed district-years already included, less any file read again
included as (
    select event_id, event_type, schema_version, occurred_at, source, district_code, school_id, year, seq,
           payload, fact_subkey, landed_batch, landed_pos, landed_at, landed_file
    from {{ this }}
    where {{ changed() }}
      and landed_file not in (select landed_file from {{ ref('landing_new_files') }})
),

both_ as (
    select * from typed
    union all
    select * from included
),
{%- else %}

both_ as (
    select * from typed
),
{%- endif %}

keyed as (
    select
        *,
        event_type || '|' || (case when starts_with(event_type, 'school.') then school_id else district_code end)
            || '|' || cast(year as varchar) || '|' || fact_subkey as fact_key
    from both_
)

select
    *,
    row_number() over (partition by fact_key order by seq desc, landed_batch, landed_pos) = 1 as is_latest,
    count(*) over (partition by fact_key)                                                      as versions_landed
from keyed
