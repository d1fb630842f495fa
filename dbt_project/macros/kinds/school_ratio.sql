{# school_ratio (Q4 and the like), as rules/kinds/school_ratio.py: every school's scale × numerator /
   denominator of its finance fact meets the threshold (a zero denominator or no finance fact is
   undecided). #}
{% macro rule_kind__school_ratio(judged) %}
    {%- set school_checks -%}
        select c.district_code, c.year, r.rule_id,
               case when f.finance is null then null
                    when cast(json_extract_string(f.finance, '$.' || den.value_text) as double) = 0 then null
                    else {{ compare_dyn(
                        "sc.value_number * cast(json_extract_string(f.finance, '$.' || num.value_text) as double)
                           / cast(json_extract_string(f.finance, '$.' || den.value_text) as double)",
                        'r.comparator', 'th.value_number', 's.relative_tolerance') }}
               end as ok
        from {{ ref('int_school_checks') }} as c
        inner join {{ ref('int_school_facts') }} as f on f.school_id = c.school_id and f.year = c.year
        inner join rules as r on r.kind = 'school_ratio'
        inner join params as num on num.rule_id = r.rule_id and num.param = 'numerator'
        inner join params as den on den.rule_id = r.rule_id and den.param = 'denominator'
        inner join params as sc on sc.rule_id = r.rule_id and sc.param = 'scale'
        inner join params as th on th.rule_id = r.rule_id and th.param = 'threshold'
        cross join settings as s
        where {{ changed('c.district_code', none) }}
    {%- endset -%}
    {{ every_school_verdicts('school_ratio', school_checks) }}
{% endmacro %}
