{# The landing folder written by streams/landing.py: $JUNHENG_LANDING, else $JUNHENG_WAREHOUSE/landing. #}
{% macro landing_root() -%}
    {{- env_var('JUNHENG_LANDING', env_var('JUNHENG_WAREHOUSE', '.') ~ '/landing') -}}
{%- endmacro %}

{# A landing table to select from: the external source (read_parquet over its part files) when at
   least one file has landed, else an empty relation with the source's declared columns and types —
   a table the stream has never written to (dead_letters in a clean run) is empty, not an error. #}
{% macro landing(table) -%}
    {%- set rel = source('landing', table) -%}
    {%- if not execute -%}
        {{ rel }}
    {%- else -%}
        {%- set pattern = landing_root() ~ '/' ~ table ~ '/part-*.parquet' -%}
        {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
        {%- if found > 0 -%}
            {{ rel }}
        {%- else -%}
            {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'landing')
                                                   | selectattr('name', 'equalto', table) | first -%}
            (select {% for name, col in node.columns.items() -%}
                cast(null as {{ col.data_type }}) as {{ name }}{{ ", " if not loop.last }}
             {%- endfor %} where false)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
