{# school_rooms (G3: enough music and art rooms of their minimum area), as rules/kinds/school_rooms.py: every school passes; each school is
   judged in int_school_checks.sql, for the catalogue's first rule of the kind (as the engine). #}
{% macro rule_kind__school_rooms(judged) %}
    {%- set school_checks -%}
        select c.district_code, c.year, {{ kind_rule('school_rooms') }} as rule_id, c.rooms_ok as ok
        from {{ ref('int_school_checks') }} as c
        where {{ changed('c.district_code', none) }}
    {%- endset -%}
    {{ every_school_verdicts('school_rooms', school_checks) }}
{% endmacro %}
