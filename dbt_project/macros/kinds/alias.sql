{# alias (C7, C8, C9), as rules/kinds/alias.py: another rule's verdict (rules.alias_of) under the
   alias's id. It reads the other kinds' verdicts, so it asks for them: with judged = none it
   returns nothing and is called again with them. #}
{% macro rule_kind__alias(judged) %}
    {%- if judged is none -%}
        {{ return('') }}
    {%- endif %}
    select r.rule_id, t.district_code, t.year, t.passed, t.value, t.reason, t.due
    from rules as r
    inner join {{ judged }} as t on t.rule_id = r.alias_of
    where r.kind = 'alias'
{% endmacro %}
