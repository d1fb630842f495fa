{# dbt-duckdb loads a seed with COPY … FROM '<path>' (include/duckdb/macros/seed.sql), the path
   unquoted. `junheng build` runs this project from the warehouse's own folder
   (<warehouse>/work/dbt_project, junheng/build/project.py), so a warehouse path like
   /data/o'brien [2024]/ reaches that literal: its quotes are doubled here. This root-project macro
   takes precedence over the adapter's (adapter.dispatch searches the root project first); the
   non-fast path is dbt's own (parameter bindings, no path in the SQL). #}
{% macro duckdb__load_csv_rows(model, agate_table) %}
    {% if config.get('fast', true) %}
        {% set seed_file_path = adapter.get_seed_file_path(model) | replace("'", "''") %}
        {% set delimiter = config.get('delimiter', ',') | replace("'", "''") %}
        {% set sql %}
          COPY {{ this.render() }} FROM '{{ seed_file_path }}' (FORMAT CSV, HEADER TRUE, DELIMITER '{{ delimiter }}')
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {{ return(sql) }}
    {% endif %}
    {{ return(default__load_csv_rows(model, agate_table)) }}
{% endmacro %}
