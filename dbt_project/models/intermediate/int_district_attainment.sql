-- The attainment summary per district-year (rules/district.py summarise): Kleene AND of the rules of
-- each dimension; vetoed when a veto is raised; attained when every dimension passes and no veto is
-- raised; the failing and undecided rule ids, sorted.
{{ config(materialized='incremental', incremental_strategy='changed') }}
with verdicts as (
    select v.*
    from {{ ref('int_district_rule_verdicts') }} as v
    inner join {{ ref('rules') }} as r on r.rule_id = v.rule_id
    where r.is_attainment_rule and {{ changed('v.district_code', none) }}
),

dims as (
    select
        district_code,
        year,
        {{ all_of_where('passed', "dimension = 'resource_allocation'") }} as resource_passed,
        {{ all_of_where('passed', "dimension = 'government_guarantee'") }} as government_passed,
        {{ all_of_where('passed', "dimension = 'education_quality'") }} as quality_passed,
        {{ all_of_where('passed', "dimension = 'social_recognition'") }} as social_passed,
        {{ all_of_where('passed', "dimension = 'prerequisite'") }} as prerequisite_passed,
        -- no veto rule at all leaves nothing raised (the engine's all_of([]) is true)
        case when count_if(dimension = 'veto') = 0 then true
             else {{ all_of_where('passed', "dimension = 'veto'") }} end as veto_clear,
        coalesce(list_sort(list(rule_id) filter (where passed = false)), [])    as failed_items,
        coalesce(list_sort(list(rule_id) filter (where passed is null)), [])    as undecided_items
    from verdicts
    group by district_code, year
)

select
    district_code,
    year,
    resource_passed,
    government_passed,
    quality_passed,
    social_passed,
    prerequisite_passed,
    not veto_clear as vetoed,
    {{ and3(['resource_passed', 'government_passed', 'quality_passed', 'social_passed', 'prerequisite_passed', 'veto_clear']) }} as attained,
    failed_items,
    undecided_items
from dims
