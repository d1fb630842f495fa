-- Every section the SQL fails (mart_school_section_status.passed = false) has at least one option in
-- mart_school_gap_to_pass, and every section with an option is one the SQL fails (sections the
-- engine judged by another catalogue than the seeds' are left out).
with judged as (
    select r.school_id, r.section, r.year
    from {{ ref('stg_section_results') }} as r
    cross join {{ ref('catalogue_settings') }} as c
    where r.active and r.gap_catalogue_version = c.catalogue_version
),

sections as (
    select m.school_id, m.section, m.year, m.passed
    from {{ ref('mart_school_section_status') }} as m
    inner join judged as j using (school_id, section, year)
),

with_options as (
    select distinct school_id, section, year
    from {{ ref('mart_school_gap_to_pass') }} as g
    cross join {{ ref('catalogue_settings') }} as c
    where g.engine_catalogue_version = c.catalogue_version
)

select s.school_id, s.section, s.year, 'failing section without an option' as problem
from sections as s
left join with_options as o on o.school_id = s.school_id and o.section = s.section and o.year = s.year
where s.passed = false and o.school_id is null
union all
select o.school_id, o.section, o.year, 'option for a section that does not fail'
from with_options as o
left join sections as s on s.school_id = o.school_id and s.section = o.section and s.year = o.year
where s.passed is distinct from false
