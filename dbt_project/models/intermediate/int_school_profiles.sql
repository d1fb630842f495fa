-- school.registered in force per (school, registration year): identity and kind of the school.
{{ config(materialized='incremental', incremental_strategy='changed', changed_year='registered_year') }}
select
    school_id,
    district_code,
    year                                                            as registered_year,
    event_id,
    seq,
    json_extract_string(payload, '$.name')                          as school_name,
    json_extract_string(payload, '$.school_type')                   as school_type,
    json_extract_string(payload, '$.locale')                        as locale,
    json_extract_string(payload, '$.ownership')                     as ownership,
    cast(json_extract_string(payload, '$.boarding') as boolean)     as boarding,
    cast(json_extract_string(payload, '$.opened_year') as integer)  as opened_year,
    cast(json_extract_string(payload, '$.closed_year') as integer)  as closed_year
from {{ ref('stg_events') }}
where event_type = 'school.registered' and is_latest and {{ changed('district_code', none) }}
