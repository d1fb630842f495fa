{# district_metric, as rules/kinds/district_metric.py: each check of the district_checks seed, an
   input (stat.X, sum.X) or a ratio of two against a threshold or another input, passes; a check for
   a locale the district has no school of is met as not applicable. #}
{% macro rule_kind__district_metric(judged) %}
    {{ district_checks_verdicts('district_metric',
        value="case when ratio_numerator is null then input_value
                    when numerator_value is null or denominator_value is null or denominator_value = 0 then null
                    else scale * numerator_value / denominator_value end",
        compared_with="coalesce(threshold, threshold_input_value)") }}
{% endmacro %}
