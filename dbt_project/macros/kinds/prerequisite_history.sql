{# prerequisite_history (PRE-2, when the jurisdiction enables it), as rules/kinds/prerequisite_history.py:
   the comprehensive CV (mean of the level's coefficients) in each of the `years` years before stayed
   within the level's threshold. #}
{% macro rule_kind__prerequisite_history(judged) %}
    with history as (
        select r.rule_id, dy.district_code, dy.year, b.year as history_year, b.level,
               case when count_if(b.cv is null) > 0 then null
                    else {{ compare('avg(b.cv)', '<=', 'any_value(th.value_number)', 'any_value(st.relative_tolerance)') }} end as passed
        from dy
        cross join rules as r
        cross join settings as st
        inner join params as yrs on yrs.rule_id = r.rule_id and yrs.param = 'years'
        inner join {{ ref('int_district_balance') }} as b
            on b.district_code = dy.district_code and b.year between dy.year - yrs.value_number and dy.year - 1 and b.sections > 0
        inner join params as th on th.rule_id = r.rule_id and th.param = 'thresholds.' || b.level
        where r.kind = 'prerequisite_history' and st.pre2_enabled and {{ changed('b.district_code', none) }}
        group by r.rule_id, dy.district_code, dy.year, b.year, b.level
    )

    select r.rule_id, dy.district_code, dy.year,
           case when not st.pre2_enabled then true
                when count(h.passed) + count_if(h.history_year is not null and h.passed is null) = 0 then null
                else {{ all_of('h.passed') }} end as passed,
           cast(null as double) as value,
           case when not st.pre2_enabled then 'not required here'
                when {{ all_of('h.passed') }} is distinct from true then 'comprehensive CV history not met or unknown' end as reason,
           true as due
    from dy
    cross join rules as r
    cross join settings as st
    left join history as h on h.rule_id = r.rule_id and h.district_code = dy.district_code and h.year = dy.year
    where r.kind = 'prerequisite_history'
    group by r.rule_id, dy.district_code, dy.year, st.pre2_enabled
{% endmacro %}
