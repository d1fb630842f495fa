-- One row per district × year × level × indicator: the enrolment-weighted coefficient of
-- variation across the district's sections (RA-CV), computed in SQL.
select
    district_code,
    year,
    level,
    indicator,
    sections,
    students,
    weighted_mean,
    cv,
    threshold,
    passed,
    comparator,
    sections_missing_input,
    reason,
    rule_id
from {{ ref('int_district_balance') }}
