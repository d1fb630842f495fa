-- D1–D3 per district-year (rules/accountability.py deadline_result), judged on the as_of date
-- (var as_of, default: the day of the run): the milestone on or before its deadline; not yet due
-- is undecided; D3 (only_if_attained) is not required while the standard is not met.
with deadline_rules as (
    select
        r.rule_id, r.position, r.in_force_from, r.in_force_to,
        max(p.value_text) filter (where p.param = 'milestone')               as milestone,
        max(p.value_number) filter (where p.param = 'year_offset')           as year_offset,
        max(p.value_number) filter (where p.param = 'month')                 as month,
        max(p.value_number) filter (where p.param = 'day')                   as day,
        bool_or(p.value_text = 'true') filter (where p.param = 'only_if_attained') as only_if_attained
    from {{ ref('rules') }} as r
    inner join {{ ref('rule_params') }} as p on p.rule_id = r.rule_id
    where r.kind = 'deadline'
    group by r.rule_id, r.position, r.in_force_from, r.in_force_to
),

milestones as (
    select district_code, year, json_extract_string(payload, '$.kind') as milestone,
           cast(json_extract_string(payload, '$.on') as date) as reached_on
    from {{ ref('stg_events') }}
    where is_latest and event_type = 'district.milestone'
),

judged as (
    select
        a.district_code,
        a.year,
        d.rule_id,
        d.position,
        d.milestone,
        make_date(cast(a.year + d.year_offset as bigint), cast(d.month as bigint), cast(d.day as bigint)) as due_on,
        m.reached_on,
        {{ as_of_date() }} as as_of,
        d.only_if_attained,
        a.attained
    from {{ ref('int_district_attainment') }} as a
    inner join deadline_rules as d
        on a.year >= d.in_force_from and (d.in_force_to is null or a.year <= d.in_force_to)
    left join milestones as m on m.district_code = a.district_code and m.year = a.year and m.milestone = d.milestone
)

select
    district_code,
    year,
    rule_id,
    position,
    milestone,
    due_on,
    reached_on,
    as_of,
    case when only_if_attained and attained is distinct from true then (case when attained is null then null else true end)
         when reached_on is not null then reached_on <= due_on
         when as_of > due_on then false
    end as passed,
    case when only_if_attained and attained is distinct from true
              then (case when attained is null then 'attainment undecided' else 'not required: standard not met' end)
         when reached_on is not null and reached_on > due_on then milestone || ' on ' || reached_on || ', after the deadline ' || due_on
         when reached_on is not null then null
         when as_of > due_on then 'no ' || milestone || ' by the deadline ' || due_on
         else milestone || ' not yet due (' || due_on || ')'
    end as reason
from judged
