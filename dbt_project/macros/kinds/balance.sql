{# balance (RA-CV), as rules/kinds/balance.py: every (level, indicator) coefficient of the levels the
   district has within its threshold (the coefficients: int_district_balance.sql); a district-year
   without sections is undecided. #}
{% macro rule_kind__balance(judged) %}
    with counted as (
        select b.rule_id, b.district_code, b.year,
               {{ all_of('b.passed') }} as passed,
               cast(count_if(b.passed = false) as double) as value,
               case when count_if(b.passed = false) > 0
                    then 'coefficients above threshold: ' || string_agg(case when b.passed = false then b.level || '/' || b.indicator end, ', '
                                             -- the engine's order: primary before junior, then R1..R7
                                             order by case b.level when 'primary' then 0 else 1 end, b.indicator)
                    when count_if(b.passed is null) > 0 then 'some coefficients undecided' end as reason,
               true as due
        from {{ ref('int_district_balance') }} as b
        where {{ changed('b.district_code', none) }}
        group by b.rule_id, b.district_code, b.year
    )

    select * from counted
    union all
    select r.rule_id, dy.district_code, dy.year, cast(null as boolean), cast(null as double), 'no sections reported', true
    from dy
    cross join rules as r
    where r.kind = 'balance'
      and not exists (select 1 from counted as j
                      where j.rule_id = r.rule_id and j.district_code = dy.district_code and j.year = dy.year)
{% endmacro %}
