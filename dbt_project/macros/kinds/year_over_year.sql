{# year_over_year (C11, C12), as rules/kinds/year_over_year.py: each checked district statistic
   compares with the comparator to its own value last year (either unknown: undecided). #}
{% macro rule_kind__year_over_year(judged) %}
    {{ district_checks_verdicts('year_over_year', value='input_value', compared_with='previous_value') }}
{% endmacro %}
