-- One row per evaluated section of an active school-year, with the inputs of its indicators:
-- enrolment of the section, staff of the section, and facilities of the section — reported per
-- section, or reported for the whole school and apportioned by enrolment (students / all students of
-- the school, a twelve-year school's senior part included), exactly as rules/sections.py.
{%- set staff_fields = ['full_time_teachers', 'qualified_teachers', 'backbone_teachers', 'pe_arts_teachers',
                        'certified_teachers', 'trained_360h_teachers'] %}
{%- set facility_fields = ['teaching_aux_area_m2', 'sports_area_m2', 'equipment_value_yuan', 'multimedia_rooms'] %}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with school_years as (
    select * from {{ ref('int_school_years') }} where active and {{ changed('district_code', none) }}
),

sections as (
    select sy.*, ss.section, ss.position as section_position
    from school_years as sy
    inner join {{ ref('school_sections') }} as ss on ss.school_type = sy.school_type
),

large_class as (
    select min(rp.value_number) as min_students
    from {{ ref('rule_params') }} as rp
    inner join {{ ref('rules') }} as r on r.rule_id = rp.rule_id
    where r.kind = 'no_large_classes_or_schools' and rp.param = 'large_class_min_students'
),

joined as (
    select
        s.*,
        f.enrolment is not null  as has_enrolment,
        f.staff is not null      as has_staff,
        f.facilities is not null as has_facilities,
        f.finance,
        f.facilities,
        f.enrolment,
        case s.section when 'primary' then json_extract(f.enrolment, '$.sections.primary')
                       when 'junior'  then json_extract(f.enrolment, '$.sections.junior') end  as enrol_sec,
        case s.section when 'primary' then json_extract(f.staff, '$.sections.primary')
                       when 'junior'  then json_extract(f.staff, '$.sections.junior') end      as staff_sec,
        json_extract(f.facilities, '$.sections') is not null                                   as facilities_by_section,
        case s.section when 'primary' then json_extract(f.facilities, '$.sections.primary')
                       when 'junior'  then json_extract(f.facilities, '$.sections.junior') end as facilities_sec,
        json_extract(f.facilities, '$.school')                                                 as facilities_school,
        case when f.enrolment is not null then
            coalesce(cast(json_extract_string(f.enrolment, '$.sections.primary.students') as bigint), 0)
          + coalesce(cast(json_extract_string(f.enrolment, '$.sections.junior.students') as bigint), 0)
          + coalesce(cast(json_extract_string(f.enrolment, '$.sections.senior.students') as bigint), 0)
        end                                                                                    as school_students
    from sections as s
    left join {{ ref('int_school_facts') }} as f
        on f.school_id = s.school_id and f.year = s.year and {{ changed('f.district_code', none) }}
),

inputs as (
    select
        *,
        cast(json_extract_string(enrol_sec, '$.students') as bigint)   as students,
        cast(json_extract_string(enrol_sec, '$.classes') as bigint)    as classes,
        cast(json_extract(enrol_sec, '$.class_sizes') as bigint[])     as class_sizes
    from joined
)

select
    i.district_code,
    i.school_id,
    i.year,
    i.section,
    i.section_position,
    i.school_type,
    i.locale,
    i.opened_year,
    i.students,
    i.classes,
    i.school_students,
    case when i.enrol_sec is not null then coalesce(list_max(i.class_sizes), 0) end                   as max_class_size,
    case when i.enrol_sec is not null
         then coalesce(len(list_filter(i.class_sizes, lambda c: c >= lc.min_students)), 0) else 0 end as large_classes,
    i.has_enrolment,
    i.has_staff,
    i.has_facilities,
    i.staff_sec is not null                                                                         as has_staff_section,
    {%- for f in staff_fields %}
    cast(json_extract_string(i.staff_sec, '$.{{ f }}') as bigint)                                  as {{ f }},
    {%- endfor %}
    i.has_facilities and not i.facilities_by_section                                                as facilities_apportioned,
    {%- for f in facility_fields %}
    case
        when not i.has_facilities then null
        when i.facilities_by_section then cast(json_extract_string(i.facilities_sec, '$.{{ f }}') as double)
        when i.facilities_school is null or i.students is null or coalesce(i.school_students, 0) = 0 then null
        else cast(json_extract_string(i.facilities_school, '$.{{ f }}') as double)
             * (cast(i.students as double) / cast(i.school_students as double))
    end                                                                                             as {{ f }},
    {%- endfor %}
    not (i.school_type = 'teaching_point' and st.teaching_point_min_students is not null
         and i.students is not null and i.students < st.teaching_point_min_students)               as included,
    case when i.school_type = 'teaching_point' and st.teaching_point_min_students is not null
              and i.students is not null and i.students < st.teaching_point_min_students
         then 'teaching point under ' || st.teaching_point_min_students || ' students' end         as excluded_reason
from inputs as i
cross join large_class as lc
cross join {{ ref('catalogue_settings') }} as st
