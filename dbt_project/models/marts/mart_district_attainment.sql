-- One row per district × year: the attainment verdict by dimension, computed in SQL from the facts
-- and the catalogue seeds, with the failing and undecided rule ids (as lists, and as text for BI
-- tools that do not read lists); the engine's landed verdict is beside it (engine_attained) for
-- reconciliation, and the catalogue judged by.
-- Built incrementally: the changed district-years' rows are replaced (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='changed', on_schema_change='fail') }}
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
    array_to_string(a.failed_items, ', ')    as failed_items_text,
    a.undecided_items,
    array_to_string(a.undecided_items, ', ') as undecided_items_text,
    e.attained                               as engine_attained,
    e.failed_items                           as engine_failed_items,
    array_to_string(e.failed_items, ', ')    as engine_failed_items_text,
    a.district_code || '-' || a.year         as attainment_key,
    s.catalogue,
    s.catalogue_version
from {{ ref('int_district_attainment') }} as a
left join {{ ref('districts') }} as d on d.district_code = a.district_code
left join {{ ref('stg_district_status') }} as e
    on e.district_code = a.district_code and e.year = a.year and {{ changed('e.district_code', none) }}
cross join {{ ref('catalogue_settings') }} as s
where {{ changed('a.district_code', none) }}
