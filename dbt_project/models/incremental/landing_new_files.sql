-- The landing files this build includes that the warehouse has not: every file on disk of the
-- incrementally built landing tables, less those incremental.landing_ledger lists (all of them on a
-- first build or under --full-refresh). Built first; the staging tables read exactly these files.
{%- set ledger = incremental_relation('landing_ledger') %}
with on_disk as (
{%- for t in incremental_landing_tables() %}
    select '{{ t }}' as landing_table, file as path from glob({{ landing_glob(t ~ '/part-*.parquet') }})
    {{- '\n    union all' if not loop.last }}
{%- endfor %}
),

parsed as (
    select
        landing_table,
        landing_table || '/' || regexp_extract(path, '[^/]+$')                         as landed_file,
        path,
        regexp_extract(path, 'part-([0-9]+)-(.+)\.parquet$', 2)                         as writer,
        cast(regexp_extract(path, 'part-([0-9]+)-(.+)\.parquet$', 1) as bigint)         as batch
    from on_disk
)

select * from parsed
{%- if ledger is not none and not should_full_refresh() %}
where landed_file not in (select landed_file from {{ ledger }})
{%- endif %}
