-- One row per school section × year: its students, how many of R1–R7 it meets and its RA-S verdict
-- computed in SQL, beside the verdict the engine landed (engine_passed) for reconciliation.
with engine as (
    select school_id, year, section, passed, indicators_met
    from {{ ref('stg_section_results') }}
    where active
)

select
    s.district_code,
    s.school_id,
    s.section,
    s.year,
    s.students,
    s.indicators_met,
    s.passed,
    s.school_type,
    s.included,
    s.indicators_missed,
    s.indicators_undecided,
    s.reason,
    s.rule_id,
    e.passed                                  as engine_passed,
    e.school_id is not null                   as engine_reported
from {{ ref('int_section_status') }} as s
left join engine as e on e.school_id = s.school_id and e.year = s.year and e.section = s.section
