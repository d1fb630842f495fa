-- R1–R7 per section: value = scale × numerator / students, compared with the level's threshold
-- moved by the engine's tolerance (rules/logic.py bound()). Null when an input is missing or the
-- section has no students (never divided by zero); missing_reason says which.
{%- set fields = ['full_time_teachers', 'qualified_teachers', 'backbone_teachers', 'pe_arts_teachers',
                  'certified_teachers', 'trained_360h_teachers',
                  'teaching_aux_area_m2', 'sports_area_m2', 'equipment_value_yuan', 'multimedia_rooms'] %}
{{ config(materialized='incremental', incremental_strategy='changed') }}
with picked as (
    select
        sec.district_code,
        sec.school_id,
        sec.year,
        sec.section,
        sec.school_type,
        sec.students,
        sec.included,
        t.indicator,
        t.position      as indicator_position,
        t.numerator,
        t.scale,
        t.comparator,
        t.threshold,
        t.unit,
        case t.numerator
            {%- for f in fields %}
            when '{{ f }}' then cast(sec.{{ f }} as double)
            {%- endfor %}
        end             as numerator_value
    from {{ ref('int_school_sections') }} as sec
    inner join {{ ref('section_indicator_thresholds') }} as t on t.level = sec.section
    where {{ changed('sec.district_code', none) }}
),

valued as (
    select
        *,
        case when students is null or numerator_value is null or students = 0 then null
             else scale * numerator_value / students end as value,
        case when students is null then 'missing students'
             when numerator_value is null then 'missing ' || numerator
             when students = 0 then 'students is zero' end as missing_reason
    from picked
)

select
    v.district_code,
    v.school_id,
    v.year,
    v.section,
    v.school_type,
    v.students,
    v.included,
    v.indicator,
    v.indicator_position,
    v.numerator,
    v.numerator_value,
    v.scale,
    v.unit,
    v.value,
    v.comparator,
    v.threshold,
    case when v.value is null then null
         when v.comparator = '>=' then v.value >= {{ bound_dyn("'>='", 'v.threshold') }}
         else v.value <= {{ bound_dyn("'<='", 'v.threshold') }} end as met,
    v.value / v.threshold                                          as ratio_to_threshold,
    v.missing_reason
from valued as v
cross join {{ ref('catalogue_settings') }} as s
