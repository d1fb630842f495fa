-- One row per district × year: the district against the city plan, judged on the as_of date
-- (var as_of, default: the day of the run): declared creation year, attainment, on_track with the
-- reasons it is behind, and the status of each district-scoped city target (null: undecided or not
-- in force that year — see targets_in_force), and the catalogue judged by. Rebuilt whole every
-- time (one row per district-year): it depends on the as_of date as well as on the facts.
{%- set targets = ['C2', 'C3', 'C5', 'C6', 'C7', 'C8', 'C9', 'C11', 'C12', 'C13'] %}
with targets as (
    select
        district_code,
        year,
        {%- for t in targets %}
        bool_or(passed) filter (where rule_id = '{{ t }}' and in_force) as {{ t | lower }}_passed,
        {%- endfor %}
        list(rule_id order by rule_id) filter (where in_force and dimension = 'city_target') as targets_in_force
    from {{ ref('int_district_rule_verdicts') }}
    group by district_code, year
),

deadlines as (
    select
        district_code,
        year,
        bool_or(passed) filter (where rule_id = 'D1') as d1_passed,
        bool_or(passed) filter (where rule_id = 'D2') as d2_passed,
        bool_or(passed) filter (where rule_id = 'D3') as d3_passed,
        any_value(as_of) as as_of
    from {{ ref('int_district_deadlines') }}
    group by district_code, year
)

select
    o.district_code,
    coalesce(d.name_zh, o.district_code)  as district_name,
    o.year,
    o.declared_creation_year,
    o.attained,
    o.on_track,
    o.behind_reasons,
    array_to_string(o.behind_reasons, '; ')  as behind_reasons_text,
    {%- for t in targets %}
    t.{{ t | lower }}_passed,
    {%- endfor %}
    dl.d1_passed,
    dl.d2_passed,
    dl.d3_passed,
    coalesce(t.targets_in_force, [])      as targets_in_force,
    array_to_string(coalesce(t.targets_in_force, []), ', ') as targets_in_force_text,
    coalesce(dl.as_of, {{ as_of_date() }}) as as_of,
    s.catalogue,
    s.catalogue_version
from {{ ref('int_district_on_track') }} as o
left join {{ ref('districts') }} as d on d.district_code = o.district_code
left join targets as t on t.district_code = o.district_code and t.year = o.year
left join deadlines as dl on dl.district_code = o.district_code and dl.year = o.year
cross join {{ ref('catalogue_settings') }} as s
