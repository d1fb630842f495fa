-- What one active school-year contributes to its district besides RA-S/RA-CV (rules/sections.py
-- SchoolEval): the school-level checks G3 (music and art rooms), G4 (size), G5 (class size), G6
-- (small-school funding), its staff sums for sum.* inputs, large classes (C2) and whether it is
-- non-compliant for C5. Thresholds come from the rule_params seed (first rule of each kind).
{{ config(materialized='incremental', incremental_strategy='changed') }}
with schools as (
    select * from {{ ref('int_school_years') }} where active and {{ changed('district_code', none) }}
),

sections as (
    select
        school_id, year,
        count(*)                                                    as sections,
        case when count_if(students is null) > 0 then null else sum(students) end as compulsory_students,
        count_if(not has_staff_section)                             as sections_without_staff,
        sum(full_time_teachers)                                     as full_time_teachers,
        sum(trained_360h_teachers)                                  as trained_360h_teachers,
        sum(certified_teachers)                                     as certified_teachers,
        sum(large_classes)                                          as large_classes,
        {{ all_of("case when max_class_size is null then null
                        when section = 'primary' then max_class_size <= " ~ bound_dyn("'<='", kind_param('class_size', 'thresholds.primary'), 'st.relative_tolerance') ~ "
                        when section = 'junior' then max_class_size <= " ~ bound_dyn("'<='", kind_param('class_size', 'thresholds.junior'), 'st.relative_tolerance') ~ " end") }}
                                                                    as class_size_ok
    from {{ ref('int_school_sections') }}
    cross join {{ ref('catalogue_settings') }} as st
    where {{ changed('district_code', none) }}
    group by school_id, year
),

c5 as (
    -- C5: any listed indicator missed (R4, R5, R7) makes the school non-compliant; unknown ones leave it open
    select
        i.school_id, i.year,
        bool_or(i.met = false) as any_missed,
        bool_or(i.met is null) as any_unknown
    from {{ ref('int_section_indicators') }} as i
    where list_contains({{ kind_param_list('compliance_improvement', 'indicators') }}, i.indicator)
      and {{ changed('i.district_code', none) }}
    group by i.school_id, i.year
),

facts as (
    select
        s.school_id, s.year,
        f.enrolment is not null and f.facilities is not null                               as has_rooms_inputs,
        coalesce(cast(json_extract_string(f.enrolment, '$.sections.primary.classes') as bigint), 0)
          + coalesce(cast(json_extract_string(f.enrolment, '$.sections.junior.classes') as bigint), 0) as classes,
        coalesce(cast(json_extract(f.facilities, '$.music_room_areas_m2') as double[]), [])  as music_rooms,
        coalesce(cast(json_extract(f.facilities, '$.art_room_areas_m2') as double[]), [])    as art_rooms,
        f.finance is not null                                                               as has_finance,
        cast(json_extract_string(f.finance, '$.public_funds_budget_yuan') as double)        as public_funds_budget_yuan,
        cast(json_extract_string(f.finance, '$.teacher_training_yuan') as double)           as teacher_training_yuan,
        cast(json_extract_string(f.finance, '$.public_funds_per_student_yuan') as double)   as public_funds_per_student_yuan
    from schools as s
    left join {{ ref('int_school_facts') }} as f
        on f.school_id = s.school_id and f.year = s.year and {{ changed('f.district_code', none) }}
),

checked as (
    select
        s.district_code,
        s.school_id,
        s.year,
        s.school_type,
        s.locale,
        s.opened_year,
        sec.compulsory_students,
        coalesce({{ kind_param('school_size', "'max_students.' || s.school_type", expr=true) }},
                 {{ kind_param('school_size', 'max_students.default') }})   as max_students,
        sec.class_size_ok,
        cast(sec.large_classes as integer)                                   as large_classes,
        case when sec.sections_without_staff = 0 then sec.full_time_teachers end    as full_time_teachers,
        case when sec.sections_without_staff = 0 then sec.trained_360h_teachers end as trained_360h_teachers,
        case when sec.sections_without_staff = 0 then sec.certified_teachers end    as certified_teachers,
        sec.sections_without_staff > 0                                       as lacks_staff,
        f.*  exclude (school_id, year),
        greatest(1, ceil(f.classes / {{ kind_param('school_rooms', 'classes_per_room') }}))      as rooms_needed,
        c5.any_missed,
        c5.any_unknown,
        st.relative_tolerance
    from schools as s
    inner join sections as sec on sec.school_id = s.school_id and sec.year = s.year
    inner join facts as f on f.school_id = s.school_id and f.year = s.year
    left join c5 on c5.school_id = s.school_id and c5.year = s.year
    cross join {{ ref('catalogue_settings') }} as st
),

judged as (
    select
        *,
        case when compulsory_students is null then null else compulsory_students > max_students end as large,
        case when not has_rooms_inputs then null
             else len(music_rooms) >= rooms_needed and len(art_rooms) >= rooms_needed
                  and (len(music_rooms) = 0 or {{ compare('list_min(music_rooms)', '>=', kind_param('school_rooms', 'music_room_min_m2'), 'relative_tolerance') }})
                  and (len(art_rooms) = 0 or {{ compare('list_min(art_rooms)', '>=', kind_param('school_rooms', 'art_room_min_m2'), 'relative_tolerance') }})
        end as rooms_ok,
        case when not (list_contains({{ kind_param_list('small_school_funding', 'locales') }}, locale)
                       or list_contains({{ kind_param_list('small_school_funding', 'school_types') }}, school_type)) then true
             when compulsory_students is null then null
             when compulsory_students >= {{ kind_param('small_school_funding', 'below_students') }} then true
             when not has_finance then null
             else {{ compare('public_funds_budget_yuan', '>=',
                             kind_param('small_school_funding', 'funded_as_students') ~ ' * public_funds_per_student_yuan',
                             'relative_tolerance') }}
        end as small_funding_ok
    from checked
)

select
    district_code,
    school_id,
    year,
    school_type,
    locale,
    opened_year,
    compulsory_students,
    max_students,
    large,
    rooms_needed,
    rooms_ok,
    class_size_ok,
    small_funding_ok,
    large_classes,
    full_time_teachers,
    trained_360h_teachers,
    certified_teachers,
    lacks_staff,
    has_finance,
    public_funds_budget_yuan,
    teacher_training_yuan,
    public_funds_per_student_yuan,
    -- C5 (rules/sections.py _noncompliant): a missed listed indicator or failing rooms → true
    case when any_missed or rooms_ok = false then true
         when any_unknown or rooms_ok is null then null
         else false end as noncompliant
from judged
