-- What on_track is decided from, per district-year: the declared creation year, attainment, the
-- plan's deadline year, and the failing district targets (in force and due) and deadlines, each as
-- "rule id: reason" in catalogue order.
with targets as (
    select v.district_code, v.year,
           list(v.rule_id || ': ' || coalesce(v.reason, 'not met') order by r.position)
               filter (where v.passed = false and v.due) as failing_targets
    from {{ ref('int_district_rule_verdicts') }} as v
    inner join {{ ref('rules') }} as r on r.rule_id = v.rule_id
    where v.dimension = 'city_target' and v.in_force
    group by v.district_code, v.year
),

deadlines as (
    select district_code, year,
           list(rule_id || ': ' || coalesce(reason, 'missed') order by position) filter (where passed = false) as failing_deadlines
    from {{ ref('int_district_deadlines') }}
    group by district_code, year
)

select
    a.district_code,
    a.year,
    y.declared_creation_year,
    a.attained,
    s.plan_deadline_year,
    coalesce(t.failing_targets, [])   as failing_targets,
    coalesce(d.failing_deadlines, []) as failing_deadlines
from {{ ref('int_district_attainment') }} as a
inner join {{ ref('int_district_years') }} as y on y.district_code = a.district_code and y.year = a.year
cross join {{ ref('catalogue_settings') }} as s
left join targets as t on t.district_code = a.district_code and t.year = a.year
left join deadlines as d on d.district_code = a.district_code and d.year = a.year
