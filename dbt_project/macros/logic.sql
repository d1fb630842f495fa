{# Three-valued logic and threshold comparison, exactly as rules/logic.py.
   `tol` is the engine's RELATIVE_TOLERANCE, read from the catalogue_settings seed. #}

{# compare(value, comparator, threshold): equality judged to the relative tolerance. #}
{% macro compare(value, comparator, threshold, tol='s.relative_tolerance') -%}
    {%- set slack = '(' ~ tol ~ ' * greatest(abs(' ~ value ~ '), abs(' ~ threshold ~ ')))' -%}
    {%- if comparator == '>=' -%} ({{ value }} >= {{ threshold }} - {{ slack }})
    {%- elif comparator == '<=' -%} ({{ value }} <= {{ threshold }} + {{ slack }})
    {%- elif comparator == '>' -%} ({{ value }} > {{ threshold }} + {{ slack }})
    {%- elif comparator == '<' -%} ({{ value }} < {{ threshold }} - {{ slack }})
    {%- elif comparator == '==' -%} (abs({{ value }} - {{ threshold }}) <= {{ slack }})
    {%- else -%} {{ exceptions.raise_compiler_error("unknown comparator " ~ comparator) }}
    {%- endif -%}
{%- endmacro %}

{# The same with the comparator a column: the seeds carry comparators as data. #}
{% macro compare_dyn(value, comparator_col, threshold, tol='s.relative_tolerance') -%}
    (case {{ comparator_col }}
        when '>=' then {{ compare(value, '>=', threshold, tol) }}
        when '<=' then {{ compare(value, '<=', threshold, tol) }}
        when '>' then {{ compare(value, '>', threshold, tol) }}
        when '<' then {{ compare(value, '<', threshold, tol) }}
        when '==' then {{ compare(value, '==', threshold, tol) }}
     end)
{%- endmacro %}

{# bound(): the threshold moved by the tolerance, as the engine's hot path compares once. #}
{% macro bound_dyn(comparator_col, threshold, tol='s.relative_tolerance') -%}
    (case {{ comparator_col }} when '>=' then {{ threshold }} * (1.0::double - {{ tol }})
                              when '<=' then {{ threshold }} / (1.0::double - {{ tol }}) end)
{%- endmacro %}

{# Kleene AND over a group (aggregate): false if any false, else null if any null or none at all. #}
{% macro all_of(expr) -%}
    (case when bool_or(({{ expr }}) = false) then false
          when bool_or(({{ expr }}) is null) or count(*) = 0 then null
          else true end)
{%- endmacro %}

{# from_counts(): an 'every member passes' rule from counts; no member at all is undecided. #}
{% macro from_counts(failed, undecided, total) -%}
    (case when {{ failed }} > 0 then false when {{ undecided }} > 0 or {{ total }} = 0 then null else true end)
{%- endmacro %}

{# Kleene AND of a few boolean expressions (scalar). #}
{% macro and3(exprs) -%}
    (case when {% for e in exprs %}({{ e }}) = false{{ ' or ' if not loop.last }}{% endfor %} then false
          when {% for e in exprs %}({{ e }}) is null{{ ' or ' if not loop.last }}{% endfor %} then null
          else true end)
{%- endmacro %}


{# A scalar parameter of the first rule of a kind (the engine evaluates the first rule of each
   school-level kind), from the rule_params seed. #}
{% macro kind_param(kind, param, text=false, expr=false) -%}
    (select rp.{{ 'value_text' if text else 'value_number' }}
     from {{ ref('rule_params') }} as rp
     where rp.rule_id = (select r.rule_id from {{ ref('rules') }} as r where r.kind = '{{ kind }}' order by r.position limit 1)
       and rp.param = {{ param if expr else "'" ~ param ~ "'" }})
{%- endmacro %}

{# The list parameter of the first rule of a kind, as a list of text. #}
{% macro kind_param_list(kind, param) -%}
    coalesce((select list(rp.value_text order by rp.item_index)
     from {{ ref('rule_params') }} as rp
     where rp.rule_id = (select r.rule_id from {{ ref('rules') }} as r where r.kind = '{{ kind }}' order by r.position limit 1)
       and rp.param = '{{ param }}'), [])
{%- endmacro %}

{# The id of the first rule of a kind (null if the catalogue has none). #}
{% macro kind_rule(kind) -%}
    (select r.rule_id from {{ ref('rules') }} as r where r.kind = '{{ kind }}' order by r.position limit 1)
{%- endmacro %}

{# An input of a district check by name (rules/district.py DistrictView.resolve): stat.X from the
   year's district.statistics (null when absent: unknown, never zero), sum.X summed over the
   district's active schools (null with no school, or while any school lacks staff data). #}
{% macro resolve_input(col) -%}
    (case
        when {{ col }} is null then null
        when starts_with({{ col }}, 'stat.') then cast(json_extract_string(statistics, '$.' || substr({{ col }}, 6)) as double)
        when starts_with({{ col }}, 'sum.') then
            case when schools = 0 or lacking_staff > 0 then null
                 when {{ col }} = 'sum.full_time_teachers' then cast(full_time_teachers as double)
                 when {{ col }} = 'sum.trained_360h_teachers' then cast(trained_360h_teachers as double)
                 when {{ col }} = 'sum.certified_teachers' then cast(certified_teachers as double)
            end
    end)
{%- endmacro %}

{# The date deadlines are judged on: --vars '{as_of: 2026-04-01}', else the day of the run. #}
{% macro as_of_date() -%}
    {%- if var('as_of', none) -%} cast('{{ var("as_of") }}' as date) {%- else -%} current_date {%- endif -%}
{%- endmacro %}

{# all_of() over the rows of a group that satisfy `cond` (null when there are none). #}
{% macro all_of_where(expr, cond) -%}
    (case when bool_or(({{ cond }}) and ({{ expr }}) = false) then false
          when bool_or(({{ cond }}) and ({{ expr }}) is null) or count_if({{ cond }}) = 0 then null
          else true end)
{%- endmacro %}
