-- Every applied event, typed, with its fact key (docs/events.md "Versioning and fact_key") and
-- whether it is the version in force: the highest seq per fact key, the first landed on ties.
with landed as (
    select * from {{ landing('events') }}
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
        cast(landed_at as timestamp)                        as landed_at
    from landed
),

keyed as (
    select
        *,
        event_type || '|' || (case when starts_with(event_type, 'school.') then school_id else district_code end)
            || '|' || cast(year as varchar) || '|' || fact_subkey as fact_key
    from typed
)

select
    *,
    row_number() over (partition by fact_key order by seq desc, landed_batch, landed_pos) = 1 as is_latest,
    count(*) over (partition by fact_key)                                                      as versions_landed
from keyed
