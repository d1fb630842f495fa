{# class_size (G5: no class above its level's size limit), as rules/kinds/class_size.py: every school passes; each school is
   judged in int_school_checks.sql, for the catalogue's first rule of the kind (as the engine). #}
{% macro rule_kind__class_size(judged) %}
    {%- set school_checks -%}
        select c.district_code, c.year, {{ kind_rule('class_size') }} as rule_id, c.class_size_ok as ok
        from {{ ref('int_school_checks') }} as c
        where {{ changed('c.district_code', none) }}
    {%- endset -%}
    {{ every_school_verdicts('class_size', school_checks) }}
{% endmacro %}
