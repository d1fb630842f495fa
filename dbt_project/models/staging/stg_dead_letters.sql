-- Rejected records: reason code and message, origin parsed from its JSON, and their status.
-- One row per rejected record: the worker is at-least-once, so a batch re-delivered after a crash
-- lands its dead letters again (its applied events come back as duplicates and are not re-landed).
-- The same record is the same origin (topic/partition/offset, or file/line) with the same bytes;
-- the first landing is kept. (The embedded driver lands a dead letter once whatever the run:
-- dead_letter_id, a hash of the code and the bytes, tells it one it landed before; rows landed
-- before ids get theirs computed here the same way.)
-- status: what `junheng dlq` last did to it (landing dead_letter_actions; streams/dead_letters.py
-- is the same rule): discarded; replayed when that resolved it -- unless it was replayed through
-- Kafka and the worker landed it again from the position it was produced to -- else open.
with landed as (
    select
        coalesce(dead_letter_id, substr(sha256(reason_code || chr(10) || coalesce(raw, '')), 1, 32)) as dead_letter_id,
        reason_code, reason, origin, raw, landed_batch, landed_pos, landed_at
    -- a warehouse landed before ids has no such column in any file: union by name supplies it
    from (select cast(null as varchar) as dead_letter_id where false
          union all by name
          select * from {{ landing('dead_letters') }})
),
last_action as (
    select dead_letter_id, action, outcome, resolved, note
    from {{ landing('dead_letter_actions') }}
    qualify row_number() over (partition by dead_letter_id order by landed_batch desc, landed_pos desc) = 1
),
refused_again as (
    select distinct a.dead_letter_id
    from last_action as a
    join landed as l on l.dead_letter_id = a.dead_letter_id
    where a.outcome like 'produced:%'
      and json_extract_string(l.origin, '$.topic') || ':' || json_extract_string(l.origin, '$.partition')
          || ':' || json_extract_string(l.origin, '$.offset') = substr(a.outcome, 10)
)
select
    l.dead_letter_id,
    l.reason_code,
    l.reason,
    cast(l.origin as json)                          as origin,
    json_extract_string(l.origin, '$.file')         as origin_file,
    cast(json_extract(l.origin, '$.line') as bigint) as origin_line,
    json_extract_string(l.origin, '$.topic')        as origin_topic,
    cast(json_extract(l.origin, '$.partition') as integer) as origin_partition,
    cast(json_extract(l.origin, '$.offset') as bigint)     as origin_offset,
    l.raw,
    l.landed_batch,
    l.landed_pos,
    cast(l.landed_at as timestamp) as landed_at,
    case
        when a.action = 'discarded' then 'discarded'
        when a.resolved and r.dead_letter_id is null then 'replayed'
        else 'open'
    end                                             as status,
    a.outcome                                       as last_outcome,
    a.note                                          as action_note
from landed as l
left join last_action as a on a.dead_letter_id = l.dead_letter_id
left join refused_again as r on r.dead_letter_id = l.dead_letter_id
qualify row_number() over (partition by l.origin, l.raw order by l.landed_batch, l.landed_pos, l.landed_at) = 1
