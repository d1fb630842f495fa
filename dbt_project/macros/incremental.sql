{# Incremental builds (issue #11; docs/marts.md, "Incremental builds").

   A build recomputes only the district-years touched by the landing files it has not included yet.
   The warehouse knows what it has included: incremental.landing_ledger lists every landing file its
   tables were built from, and incremental.landing_new_files, built first, the files on disk that
   the ledger lacks. incremental.changed_districts says, for each district those files touch, from
   which year on its rows are recomputed. The models kept per district-year are `incremental` with
   the strategy 'changed' (below): delete the changed district-years' rows, insert the model's rows
   for them. Nothing volatile travels in dbt's --vars (a changed var costs dbt a full re-parse): a
   build needs no argument but --full-refresh, which junheng.incremental.make_plan asks for when the
   catalogue, the seeds, the district list or the project's SQL changed. A model built for the first
   time, or under --full-refresh, is built whole (is_incremental() is false) from every landing file. #}

{#- The landing tables the marts are built from incrementally (dead_letters is read by a staging view
    and alert_events by mart_alerts, both rebuilt whole every time). -#}
{% macro incremental_landing_tables() -%}
    {{ return(['events', 'section_results', 'district_status', 'district_gaps', 'district_outlook']) }}
{%- endmacro %}

{#- A model of the incremental schema as a relation, without a ref() (no edge in the DAG: the ledger
    is read before the marts are built and written after them). None when it does not exist. -#}
{% macro incremental_relation(name) -%}
    {{ return(adapter.get_relation(database=target.database, schema='incremental', identifier=name)) }}
{%- endmacro %}

{#- A literal path inside a read_parquet() list: glob characters matched literally, quotes doubled. -#}
{% macro literal_path(path) -%}
    '{{- path | replace('[', '[[]') | replace('*', '[*]') | replace('?', '[?]') | replace("'", "''") -}}'
{%- endmacro %}

{#- The landed rows of `table` plus `landed_file` ('<table>/<file name>'), from every landing file
    (`which` = 'all') or from the files landing_new_files lists ('new'); with no such file, an empty
    relation with the source's declared columns. -#}
{% macro landing_rows(table, which='all') -%}
    {%- set rel = source('landing', table) -%}
    {%- set new_files = ref('landing_new_files') -%}
    {%- if not execute -%}
        (select *, '' as landed_file from {{ rel }})
    {%- else -%}
        {%- set files = none -%}
        {%- if which == 'all' -%}
            {%- set found = run_query("select count(*) from glob(" ~ landing_glob(table ~ '/part-*.parquet') ~ ")").columns[0].values()[0] -%}
            {%- if found > 0 -%}{%- set files = landing_glob(table ~ '/part-*.parquet') -%}{%- endif -%}
        {%- else -%}
            {%- set paths = run_query("select path from " ~ new_files ~ " where landing_table = '" ~ table ~ "' order by path").columns[0].values() | list -%}
            {%- if paths -%}
                {%- set quoted = [] -%}
                {%- for p in paths -%}{%- do quoted.append(literal_path(p)) -%}{%- endfor -%}
                {%- set files = '[' ~ (quoted | join(', ')) ~ ']' -%}
            {%- endif -%}
        {%- endif -%}
        {%- if files is not none -%}
            (select * exclude (filename), regexp_extract(filename, '([^/]+/[^/]+)$', 1) as landed_file
             from read_parquet({{ files }}, union_by_name = true, filename = true))
        {%- else -%}
            {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'landing')
                                                   | selectattr('name', 'equalto', table) | first -%}
            (select {% for name, col in node.columns.items() -%}
                cast(null as {{ col.data_type }}) as {{ name }},
             {%- endfor %} cast(null as varchar) as landed_file where false)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The rows of the landing files a staging model reads: the new files when it is built
    incrementally, every file when it is built whole. -#}
{% macro landing_for_model(table) -%}
    {{ landing_rows(table, 'new' if is_incremental() else 'all') }}
{%- endmacro %}

{#- The changed districts, each with the first year recomputed: [(district_code, from_year)], or
    none when the model is built whole. -#}
{% macro changed_districts() -%}
    {%- if model.resource_type == 'unit_test' -%}   {#- a unit test's inputs are its fixtures alone -#}
        {{ return(none) }}
    {%- endif -%}
    {%- set rel = ref('changed_districts') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query("select district_code, from_year from " ~ rel ~ " order by district_code") -%}
    {{ return(found.rows | map('list') | list) }}
{%- endmacro %}

{#- A SQL condition on `district` (and `year`, unless none) true for the rows a build recomputes:
    `true` when the model is built whole, else the changed districts from their first changed year
    (`false` when nothing changed). Inputs read by district alone (`year=none`) are a superset:
    every rule reads one district only, some of them the years before (C3, C5, C11, C12, PRE-2). -#}
{% macro changed(district='district_code', year='year') -%}
    {%- set rows = changed_districts() -%}
    {%- if rows is none -%} true
    {%- elif not rows -%} false
    {%- else -%}
        {%- set by_year = {} -%}
        {%- for code, from_year in rows -%}
            {%- do by_year.setdefault(from_year, []).append("'" ~ (code | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        ({{ district }} in ({% for code, _ in rows %}'{{ code | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})
        {%- if year is not none and (by_year | length > 1 or (by_year.keys() | list)[0] > 0) %}
         and ({% for from_year, codes in by_year | dictsort -%}
              ({{ district }} in ({{ codes | join(', ') }}) and {{ year }} >= {{ from_year }}){{ ' or ' if not loop.last }}
              {%- endfor %})
        {%- endif -%})
    {%- endif -%}
{%- endmacro %}

{#- The incremental strategy of the per-district-year models: the changed district-years' rows are
    deleted, then the model's rows for them inserted (a district-year that has no row any more, say
    after a school closed, is left with none: a keyed delete+insert would keep its old rows). The
    model may compute more rows than that (it reads whole districts); only the changed ones are
    inserted. Model config: changed_district, changed_year (column names, default district_code and
    year; changed_year '' for a model keyed by district alone, whose every row a changed district
    recomputes: mart_district_outlook). -#}
{% macro get_incremental_changed_sql(arg_dict) -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set year = config.get('changed_year', 'year') -%}
    {%- set where = changed(config.get('changed_district', 'district_code'), year if year else none) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target_relation }} where {{ where }};
    insert into {{ target_relation }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }} where {{ where }}
{%- endmacro %}
