-- mart_district_gap_to_pass agrees with the SQL: each item fails in SQL too, with the same value;
-- each balance plan ends within its threshold; and every coefficient the SQL fails
-- (mart_district_balance.passed = false) has its plan.
select district_code, year, item, 'engine and SQL disagree' as problem
from {{ ref('mart_district_gap_to_pass') }}
where sql_passed is distinct from false
   or sql_value is null
   or abs(sql_value - value) > 1e-9 * greatest(1.0, abs(value))
   or distance <= 0
   or (kind = 'balance' and not (plan_passes and plan_resulting_value <= threshold * (1 + 1e-12)))
union all
select b.district_code, b.year, b.rule_id || ' ' || b.level || ' ' || b.indicator, 'failing coefficient without a plan'
from {{ ref('mart_district_balance') }} as b
left join {{ ref('mart_district_gap_to_pass') }} as g
    on g.district_code = b.district_code and g.year = b.year and g.kind = 'balance'
   and g.level = b.level and g.indicator = b.indicator
where b.passed = false and g.district_code is null
