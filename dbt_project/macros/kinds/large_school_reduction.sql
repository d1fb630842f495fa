{# large_school_reduction (C3), as rules/kinds/large_school_reduction.py: of last year's large-scale
   schools at least min_resolved_pct % resolved, and no new one (per school: int_school_year_over_year). #}
{% macro rule_kind__large_school_reduction(judged) %}
    {{ rate_verdicts('large_school_reduction', 'min_resolved_pct', base='c3_prev_large', done='c3_resolved',
                     undecided='c3_undecided', extra_fail='c3_new_large') }}
{% endmacro %}
