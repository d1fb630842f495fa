{# prerequisite (PRE), as rules/kinds/prerequisite.py: basic balance attained at least
   min_years_since_basic_balance years before (unknown basic-balance year: undecided). #}
{% macro rule_kind__prerequisite(judged) %}
    select r.rule_id, dy.district_code, dy.year,
           case when dy.basic_balance_year is null then null else dy.year - dy.basic_balance_year >= need.value_number end as passed,
           cast(dy.year - dy.basic_balance_year as double) as value,
           case when dy.basic_balance_year is null then 'basic-balance year unknown'
                when dy.year - dy.basic_balance_year < need.value_number
                then 'basic balance only ' || (dy.year - dy.basic_balance_year) || ' years before' end as reason,
           true as due
    from dy
    cross join rules as r
    inner join params as need on need.rule_id = r.rule_id and need.param = 'min_years_since_basic_balance'
    where r.kind = 'prerequisite'
{% endmacro %}
