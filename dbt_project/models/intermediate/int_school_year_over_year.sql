-- C3 and C5 compare a school with itself in the previous year (rules/contributions.py
-- year_over_year_contribution). A school opened this year counts as not large before; a school
-- not evaluated, or not active, the year before leaves the comparison undecided.
{{ config(materialized='incremental', incremental_strategy='changed') }}
with now as (
    select c.*, y.opened_year = c.year as opened_now
    from {{ ref('int_school_checks') }} as c
    inner join {{ ref('int_school_years') }} as y on y.school_id = c.school_id and y.year = c.year
    where {{ changed('c.district_code', none) }}
),

pairs as (
    select
        n.district_code,
        n.school_id,
        n.year,
        coalesce(n.opened_now, false)                                                 as opened_now,
        n.large,
        case when b.large is null and coalesce(n.opened_now, false) then false else b.large end as prev_large,
        n.noncompliant,
        b.noncompliant                                                                as prev_noncompliant
    from now as n
    left join {{ ref('int_school_checks') }} as b
        on b.school_id = n.school_id and b.year = n.year - 1 and {{ changed('b.district_code', none) }}
)

select
    district_code,
    school_id,
    year,
    opened_now,
    large,
    prev_large,
    noncompliant,
    prev_noncompliant,
    prev_large is null or large is null                                 as c3_undecided,
    coalesce(prev_large and large is not null, false)                   as c3_prev_large,
    coalesce(prev_large and large = false, false)                       as c3_resolved,
    coalesce(prev_large = false and large, false)                       as c3_new_large,
    case when prev_noncompliant is null then not opened_now
         when prev_noncompliant then noncompliant is null
         else false end                                                 as c5_undecided,
    coalesce(prev_noncompliant and noncompliant is not null, false)     as c5_prev_noncompliant,
    coalesce(prev_noncompliant and noncompliant = false, false)         as c5_fixed
from pairs
