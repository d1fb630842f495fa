-- Rejected records: reason code and message, origin parsed from its JSON.
select
    reason_code,
    reason,
    cast(origin as json)                          as origin,
    json_extract_string(origin, '$.file')         as origin_file,
    cast(json_extract(origin, '$.line') as bigint) as origin_line,
    json_extract_string(origin, '$.topic')        as origin_topic,
    cast(json_extract(origin, '$.partition') as integer) as origin_partition,
    cast(json_extract(origin, '$.offset') as bigint)     as origin_offset,
    raw,
    landed_batch,
    landed_pos,
    cast(landed_at as timestamp) as landed_at
from {{ landing('dead_letters') }}
