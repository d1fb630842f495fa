-- One row per year: the city against its plan (rules/city.py city_progress): the share of districts
-- attaining against C1's milestone (on_track: the undecided districts could still carry it → null),
-- C4 (schools built, rebuilt or expanded per year on average) and C10 (quality education groups).
-- Districts are the jurisdiction's (districts seed) and any other district that sent events.
-- Rebuilt whole every time (one row per year, from the district tables), with the catalogue judged by.
with districts as (
    select district_code from {{ ref('districts') }}
    union
    select district_code from {{ ref('int_district_years') }}
),

years as (
    select distinct year from {{ ref('int_district_attainment') }}
),

settings as (
    select * from {{ ref('catalogue_settings') }}
),

counts as (
    select
        y.year,
        count(*)                                  as districts_total,
        count_if(a.attained = true)               as districts_attained,
        count_if(a.attained is null)              as districts_undecided
    from years as y
    cross join districts as d
    left join {{ ref('int_district_attainment') }} as a on a.district_code = d.district_code and a.year = y.year
    group by y.year
),

c1 as (
    select
        c.*,
        r.rule_id is not null as c1_in_force,
        case when r.rule_id is null then 0.0
             else coalesce((select m.target_share from {{ ref('city_milestones') }} as m
                            where m.rule_id = r.rule_id and m.year <= c.year order by m.year desc limit 1), 0.0)
        end as target_share
    from counts as c
    left join {{ ref('rules') }} as r
        on r.kind = 'city_attainment_share' and c.year >= r.in_force_from and (r.in_force_to is null or c.year <= r.in_force_to)
),

projects as (
    select year, count(*) as projects
    from {{ ref('stg_events') }}
    where is_latest and event_type = 'school.project'
    group by year
),

c4_rule as (
    select
        r.rule_id, r.in_force_from, r.in_force_to,
        max(p.value_number) filter (where p.param = 'min_per_year_avg') as min_per_year_avg,
        max(p.value_number) filter (where p.param = 'from_year')        as from_year,
        max(p.value_number) filter (where p.param = 'to_year')          as to_year
    from {{ ref('rules') }} as r
    inner join {{ ref('rule_params') }} as p on p.rule_id = r.rule_id
    where r.kind = 'city_projects'
    group by r.rule_id, r.in_force_from, r.in_force_to
),

c4 as (
    select
        y.year,
        any_value(k.min_per_year_avg) as c4_threshold,
        sum(coalesce(p.projects, 0)) / count(g.project_year) as c4_value
    from years as y
    inner join c4_rule as k on y.year >= k.in_force_from and (k.in_force_to is null or y.year <= k.in_force_to)
    cross join lateral (select unnest(range(cast(k.from_year as bigint), cast(least(k.to_year, y.year) as bigint) + 1)) as project_year) as g
    left join projects as p on p.year = g.project_year
    group by y.year
),

c10_rule as (
    select
        r.rule_id, r.in_force_from, r.in_force_to,
        max(p.value_text) filter (where p.param = 'input')             as input,
        max(p.value_number) filter (where p.param = 'min_total')       as min_total,
        max(p.value_number) filter (where p.param = 'deadline_year')   as deadline_year
    from {{ ref('rules') }} as r
    inner join {{ ref('rule_params') }} as p on p.rule_id = r.rule_id
    where r.kind = 'city_sum'
    group by r.rule_id, r.in_force_from, r.in_force_to
),

c10 as (
    select
        y.year,
        any_value(k.min_total)                                     as c10_threshold,
        any_value(k.deadline_year)                                 as c10_deadline_year,
        sum(cast(json_extract_string(dy.statistics, '$.' || substr(k.input, 6)) as double)) as c10_value
    from years as y
    inner join c10_rule as k on y.year >= k.in_force_from and (k.in_force_to is null or y.year <= k.in_force_to)
    left join {{ ref('int_district_years') }} as dy on dy.year = y.year
    group by y.year
)

select
    c1.year,
    cast(c1.districts_total as integer)                                  as districts_total,
    cast(c1.districts_attained as integer)                               as districts_attained,
    cast(c1.districts_undecided as integer)                              as districts_undecided,
    case when c1.districts_total > 0 then c1.districts_attained / c1.districts_total end as attained_share,
    c1.target_share,
    case when not c1.c1_in_force or c1.districts_total = 0 then null
         when {{ compare('c1.districts_attained / c1.districts_total', '>=', 'c1.target_share', 's.relative_tolerance') }} then true
         when {{ compare('(c1.districts_attained + c1.districts_undecided) / c1.districts_total', '>=', 'c1.target_share', 's.relative_tolerance') }} then null
         else false end                                                  as on_track,
    case when not c1.c1_in_force or c1.districts_total = 0 then null
         when {{ compare('c1.districts_attained / c1.districts_total', '>=', 'c1.target_share', 's.relative_tolerance') }} then true
         when {{ compare('(c1.districts_attained + c1.districts_undecided) / c1.districts_total', '>=', 'c1.target_share', 's.relative_tolerance') }} then null
         else false end                                                  as c1_passed,
    c4.c4_value,
    c4.c4_threshold,
    case when c4.c4_value is null then null
         else {{ compare('c4.c4_value', '>=', 'c4.c4_threshold', 's.relative_tolerance') }} end as c4_passed,
    c10.c10_value,
    c10.c10_threshold,
    case when c10.c10_value is null then null
         when {{ compare('c10.c10_value', '>=', 'c10.c10_threshold', 's.relative_tolerance') }} then true
         when c1.year >= c10.c10_deadline_year then false
         else null end                                                   as c10_passed,
    s.catalogue,
    s.catalogue_version
from c1
cross join settings as s
left join c4 on c4.year = c1.year
left join c10 on c10.year = c1.year
