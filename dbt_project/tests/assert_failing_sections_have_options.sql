-- Every section the SQL fails (mart_school_section_status.passed = false) has at least one option in
-- mart_school_gap_to_pass, and every section with an option is one the SQL fails.
with sections as (
    select school_id, section, year, passed from {{ ref('mart_school_section_status') }}
),

with_options as (
    select distinct school_id, section, year from {{ ref('mart_school_gap_to_pass') }}
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
