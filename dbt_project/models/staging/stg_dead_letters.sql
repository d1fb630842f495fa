-- Rejected records: reason code and message, origin parsed from its JSON.
-- One row per rejected record: the worker is at-least-once, so a batch re-delivered after a crash
-- lands its dead letters again (its applied events come back as duplicates and are not re-landed).
-- The same record is the same origin (topic/partition/offset, or file/line) with the same bytes;
-- the first landing is kept. (The embedded driver lands a dead letter once whatever the run:
-- dead_letter_id, a hash of the code and the bytes, tells it one it landed before.)
select
    dead_letter_id,
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
qualify row_number() over (partition by origin, raw order by landed_batch, landed_pos, landed_at) = 1
