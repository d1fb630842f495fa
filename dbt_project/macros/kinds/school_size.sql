{# school_size (G4: no school above its type's size limit), as rules/kinds/school_size.py: every school passes; each school is
   judged in int_school_checks.sql, for the catalogue's first rule of the kind (as the engine). #}
{% macro rule_kind__school_size(judged) %}
    {%- set school_checks -%}
        select c.district_code, c.year, {{ kind_rule('school_size') }} as rule_id, not c.large as ok
        from {{ ref('int_school_checks') }} as c
        where {{ changed('c.district_code', none) }}
    {%- endset -%}
    {{ every_school_verdicts('school_size', school_checks) }}
{% endmacro %}
