{# small_school_funding (G6: small rural schools and teaching points funded as if larger), as rules/kinds/small_school_funding.py: every school passes; each school is
   judged in int_school_checks.sql, for the catalogue's first rule of the kind (as the engine). #}
{% macro rule_kind__small_school_funding(judged) %}
    {%- set school_checks -%}
        select c.district_code, c.year, {{ kind_rule('small_school_funding') }} as rule_id, c.small_funding_ok as ok
        from {{ ref('int_school_checks') }} as c
        where {{ changed('c.district_code', none) }}
    {%- endset -%}
    {{ every_school_verdicts('small_school_funding', school_checks) }}
{% endmacro %}
