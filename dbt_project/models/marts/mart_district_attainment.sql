-- One row per district × year: the attainment verdict by dimension, computed in SQL from the facts
-- and the catalogue seeds, with the failing and undecided rule ids; the engine's landed verdict is
-- beside it (engine_attained) for reconciliation.
select
    a.district_code,
    coalesce(d.name_zh, a.district_code)     as district_name,
    d.name_en                                as district_name_en,
    a.year,
    a.resource_passed,
    a.government_passed,
    a.quality_passed,
    a.social_passed,
    a.prerequisite_passed,
    a.vetoed,
    a.attained,
    a.failed_items,
    a.undecided_items,
    e.attained                               as engine_attained,
    e.failed_items                           as engine_failed_items,
    a.district_code || '-' || a.year         as attainment_key
from {{ ref('int_district_attainment') }} as a
left join {{ ref('districts') }} as d on d.district_code = a.district_code
left join {{ ref('stg_district_status') }} as e on e.district_code = a.district_code and e.year = a.year
