{# The landing folder written by streams/landing.py: $JUNHENG_WAREHOUSE/landing (junheng build sets
   JUNHENG_WAREHOUSE for dbt; junheng/layout.py owns the warehouse's layout). #}
{% macro landing_root() -%}
    {{- env_var('JUNHENG_WAREHOUSE', '.') ~ '/landing' -}}
{%- endmacro %}

{# A landing glob as a SQL string literal: the folder's glob characters ([ * ?) matched literally
   (DuckDB's [[] [*] [?]) and its quotes doubled, so a warehouse path like /data/o'brien [2024]/
   neither breaks the SQL nor silently matches no file. The sources' external_location in
   models/staging/_sources.yml and models/marts/mart_alerts.yml does the same with filters. #}
{% macro landing_glob(relative) -%}
    {%- set folder = landing_root() | replace('[', '[[]') | replace('*', '[*]') | replace('?', '[?]') -%}
    '{{- (folder ~ '/' ~ relative) | replace("'", "''") -}}'
{%- endmacro %}

{# A landing table to select from: the external source (read_parquet over its part files) when at
   least one file has landed, else an empty relation with the source's declared columns and types —
   a table the stream has never written to (dead_letters in a clean run, alert_events before the
   first alert) is empty, not an error. `source_name`: the dbt source declaring it ('landing' for
   the stream's tables, 'alerting' for the alert history). #}
{% macro landing(table, source_name='landing') -%}
    {%- set rel = source(source_name, table) -%}
    {%- if not execute -%}
        {{ rel }}
    {%- else -%}
        {%- set found = run_query("select count(*) from glob(" ~ landing_glob(table ~ '/part-*.parquet') ~ ")").columns[0].values()[0] -%}
        {%- if found > 0 -%}
            {{ rel }}
        {%- else -%}
            {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                                                   | selectattr('name', 'equalto', table) | first -%}
            (select {% for name, col in node.columns.items() -%}
                cast(null as {{ col.data_type }}) as {{ name }}{{ ", " if not loop.last }}
             {%- endfor %} where false)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
