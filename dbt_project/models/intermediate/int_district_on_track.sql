-- on_track and behind_reasons (rules/accountability.py assess): a district is behind when it has not
-- attained by its declared creation year, declared a year after the plan's deadline, has not attained
-- by the plan's deadline, fails a district target that is due, or missed a calendar deadline.
-- Without reasons it is on track, unless its declared year is unknown, or has come while attainment is
-- still undecided: then null.
with reasons as (
    select
        *,
        list_concat(
            list_concat(
                case when declared_creation_year is not null and year >= declared_creation_year and attained = false
                     then ['DCY: not attained by its declared creation year ' || declared_creation_year] else [] end,
                case when declared_creation_year is not null and plan_deadline_year is not null
                          and declared_creation_year > plan_deadline_year
                     then ['C1: declared creation year ' || declared_creation_year || ' is after the plan''s ' || plan_deadline_year]
                     else [] end),
            list_concat(
                case when plan_deadline_year is not null and year >= plan_deadline_year and attained = false
                     then ['C1: not attained by the plan''s deadline ' || plan_deadline_year] else [] end,
                list_concat(coalesce(failing_targets, []), coalesce(failing_deadlines, [])))
        ) as behind_reasons
    from {{ ref('int_district_accountability_inputs') }}
)

select
    district_code,
    year,
    declared_creation_year,
    attained,
    case when len(behind_reasons) > 0 then false
         when declared_creation_year is null or (year >= declared_creation_year and attained is null) then null
         else true end                         as on_track,
    cast(behind_reasons as varchar[])          as behind_reasons
from reasons
