-- One row per school section × year × indicator (R1–R7): the value computed in SQL from the facts,
-- its threshold for the section's level, whether it is met (null: an input is missing, see
-- missing_reason) and value / threshold.
select
    i.district_code,
    i.school_id,
    i.section,
    i.year,
    i.indicator,
    i.value,
    i.threshold,
    i.met,
    i.ratio_to_threshold,
    i.comparator,
    i.students,
    i.numerator,
    i.numerator_value,
    i.scale,
    i.unit,
    i.included,
    i.missing_reason,
    r.name_en  as indicator_name_en,
    r.name_zh  as indicator_name_zh,
    r.clause
from {{ ref('int_section_indicators') }} as i
inner join {{ ref('rules') }} as r on r.rule_id = i.indicator
