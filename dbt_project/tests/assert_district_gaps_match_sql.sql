-- mart_district_gap_to_pass agrees with the SQL: each item fails in SQL too, with the same value;
-- each balance plan ends within its threshold; and every coefficient the SQL fails
-- (mart_district_balance.passed = false) has its plan. Rows of district-years the engine judged by
-- another catalogue than the seeds' are left out.
with gaps as (
    select g.* from {{ ref('mart_district_gap_to_pass') }} as g
    where g.engine_catalogue_version = g.catalogue_version
),

judged as (
    select s.district_code, s.year
    from {{ ref('stg_district_gaps') }} as s
    cross join {{ ref('catalogue_settings') }} as c
    where s.catalogue_version = c.catalogue_version
)

select district_code, year, item, 'engine and SQL disagree' as problem
from gaps
where sql_passed is distinct from false
   or sql_value is null
   or abs(sql_value - value) > 1e-9 * greatest(1.0, abs(value))
   or distance <= 0
   or (kind = 'balance' and not (plan_passes and plan_resulting_value <= threshold * (1 + 1e-12)))
union all
select b.district_code, b.year, b.rule_id || ' ' || b.level || ' ' || b.indicator, 'failing coefficient without a plan'
from {{ ref('mart_district_balance') }} as b
inner join judged as j on j.district_code = b.district_code and j.year = b.year
left join gaps as g
    on g.district_code = b.district_code and g.year = b.year and g.kind = 'balance'
   and g.level = b.level and g.indicator = b.indicator
where b.passed = false and g.district_code is null
