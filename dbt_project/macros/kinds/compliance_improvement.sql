{# compliance_improvement (C5), as rules/kinds/compliance_improvement.py: of last year's non-compliant
   schools at least min_fixed_pct % compliant now (per school: int_school_year_over_year). #}
{% macro rule_kind__compliance_improvement(judged) %}
    {{ rate_verdicts('compliance_improvement', 'min_fixed_pct', base='c5_prev_noncompliant', done='c5_fixed',
                     undecided='c5_undecided') }}
{% endmacro %}
