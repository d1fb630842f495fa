-- Alerts on districts (and the city) falling behind: one row per alert × state change, from the
-- history the alert evaluator lands (junheng/alerting: landing/alert_events, one Parquet file per
-- evaluation that changed something). A firing row opens an episode (starts_at, ends_at null); a
-- resolved row closes it (same starts_at, ends_at). alert_id is the stable fingerprint of
-- alertname + district_code + rule_id + year (docs/alerts.md). City alerts have district_code null
-- (scope 'city'). Times are UTC. A state change landed twice (the evaluator is at least once) is
-- kept once: the first landed row of each event_id. labels and annotations are JSON, and text
-- beside them (labels_text, annotations_text) for BI tools that do not read JSON. fell_behind_at is
-- when the district fell behind (the event time of the change that made the rule fail, to the minute;
-- junheng/alerting/behind.py); history landed before it was recorded has none (null).
-- A view over the landed history, not a table: a build evaluates the alerts on the marts this very
-- dbt run built and lands their changes after it, and the view shows them without a second dbt run
-- (publishing copies it into the published file as a table). While no history has landed the
-- view is the empty relation; the build that lands the first file runs dbt for it once more.
{{ config(materialized='view') }}
{%- set has_fell_behind = false %}
{%- if execute %}
    {%- set probe = run_query("select * from " ~ landing('alert_events', 'alerting') ~ " limit 0") %}
    {%- set has_fell_behind = 'fell_behind_at' in probe.column_names %}
{%- endif %}
with landed as (
    select * from {{ landing('alert_events', 'alerting') }}
),

deduplicated as (
    select *
    from landed
    qualify row_number() over (partition by event_id order by landed_batch, landed_pos) = 1
),

ordered as (
    select
        *,
        row_number() over (partition by alert_id
                           order by evaluated_at desc, case state when 'resolved' then 0 else 1 end, landed_batch desc,
                                    landed_pos desc) = 1 as is_latest
    from deduplicated
)

select
    cast(alert_id as varchar)                  as alert_id,
    cast(district_code as varchar)             as district_code,
    cast(rule_id as varchar)                   as rule_id,
    cast(severity as varchar)                  as severity,
    cast(state as varchar)                     as state,
    cast(starts_at as timestamp)               as starts_at,
    cast(ends_at as timestamp)                 as ends_at,
    cast(summary as varchar)                   as summary,
    {%- if has_fell_behind %}
    cast(fell_behind_at as timestamp)          as fell_behind_at,
    {%- else %}
    cast(null as timestamp)                    as fell_behind_at,
    {%- endif %}
    cast(event_id as varchar)                  as event_id,
    cast(alertname as varchar)                 as alertname,
    cast(year as integer)                      as year,
    cast(scope as varchar)                     as scope,
    cast(district_name as varchar)             as district_name,
    cast(source as varchar)                    as source,
    cast(description as varchar)               as description,
    cast(clause as varchar)                    as clause,
    cast(fix as varchar)                       as fix,
    cast(labels as json)                       as labels,
    cast(labels as varchar)                    as labels_text,
    cast(annotations as json)                  as annotations,
    cast(annotations as varchar)               as annotations_text,
    cast(evaluated_at as timestamp)            as changed_at,
    cast(as_of as date)                        as as_of,
    cast(run_id as varchar)                    as run_id,
    is_latest,
    is_latest and state = 'firing'             as is_open,
    cast(landed_batch as bigint)               as landed_batch,
    cast(landed_pos as integer)                as landed_pos
from ordered
