{# Custom schemas are used as given (staging, intermediate, catalogue, snapshots), not prefixed
   with the target schema, so BI tools find the marts in `main` and nothing else there. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
