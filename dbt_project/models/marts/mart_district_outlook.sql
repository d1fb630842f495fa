-- Outlook (issue #13, item 3): will a district make its declared year at the rate it is going?
-- One row per district × failing item (a district with no failing item: one row, item null), from
-- the rules engine (rules/outlook.py, landed per district: streams/gaps.py): the item's trend (the
-- least-squares slope of its value over the years the district has data for) and the year it would
-- pass at that rate (null: not at this rate); the district's projected year of attainment (the
-- latest of its items'; null when one never passes at its rate) against its declared creation year
-- and the plan's deadline; at_risk while that year has not come and an item is projected after it.
-- sql_slope is the SQL's own slope of the item's values (regr_slope over int_district_rule_verdicts
-- or int_district_balance); dbt's tests require it to equal slope (tests/assert_outlook_matches_sql.sql).
-- Keyed by district (an outlook reads every year): a changed district's rows are all replaced
-- (changed_year '', macros/incremental.sql). `year` is the latest year of data.
{{ config(materialized='incremental', incremental_strategy='changed', changed_year='', on_schema_change='fail') }}
with outlook as (
    select * from {{ ref('stg_district_outlook') }} where {{ changed('district_code', none) }}
),

trended as (
    select o.district_code, unnest(cast(o.items as json[])) as i from outlook as o
),

item_rows as (
    select district_code,
           i ->> 'item'                              as item,
           i ->> 'comparator'                        as comparator,
           cast(i ->> 'threshold' as double)         as threshold,
           cast(i -> 'values' -> -1 ->> 1 as double) as latest_value,
           cast(json_array_length(i -> 'values') as integer) as years_of_data,
           cast(i ->> 'slope' as double)             as slope,
           cast(i ->> 'projected_year' as integer)   as projected_year,
           true                                      as projectable
    from trended
),

unprojectable as (
    select district_code, unnest(unprojectable) as item from outlook
),

items as (
    select * from item_rows
    union all
    select district_code, item, cast(null as varchar), cast(null as double), cast(null as double),
           cast(null as integer), cast(null as double), cast(null as integer), false
    from unprojectable
),

-- the SQL's own trend of each item, over the same years (up to the outlook's latest)
rule_values as (
    select v.district_code, v.rule_id as item, v.year, v.value
    from {{ ref('int_district_rule_verdicts') }} as v
    where v.value is not null and {{ changed('v.district_code', none) }}
    union all
    select b.district_code, b.rule_id || ' ' || b.level || ' ' || b.indicator, b.year, b.cv
    from {{ ref('int_district_balance') }} as b
    where b.cv is not null and {{ changed('b.district_code', none) }}
),

sql_trend as (
    select r.district_code, r.item, regr_slope(r.value, r.year) as sql_slope, count(*) as sql_years
    from rule_values as r
    inner join outlook as o on o.district_code = r.district_code and r.year <= o.year
    group by all
)

select
    o.district_code,
    coalesce(d.name_zh, o.district_code)                                  as district_name,
    o.year,
    o.declared_creation_year,
    o.plan_deadline_year,
    least(o.declared_creation_year, o.plan_deadline_year)                 as target_year,
    o.attained,
    o.projected_year                                                      as district_projected_year,
    o.at_risk,
    o.risk_items,
    array_to_string(o.risk_items, ', ')                                   as risk_items_text,
    i.item,
    i.comparator                                                          as item_comparator,
    i.threshold                                                           as item_threshold,
    i.latest_value                                                        as item_latest_value,
    i.years_of_data                                                       as item_years_of_data,
    i.slope                                                               as item_slope,
    i.projected_year                                                      as item_projected_year,
    i.projectable                                                         as item_projectable,
    coalesce(list_contains(o.risk_items, i.item), false)                  as item_drives_risk,
    case when i.projectable and i.years_of_data >= 2 then t.sql_slope end as sql_slope,
    o.catalogue_version                                                   as engine_catalogue_version,
    c.catalogue,
    c.catalogue_version
from outlook as o
left join items as i on i.district_code = o.district_code
left join sql_trend as t on t.district_code = i.district_code and t.item = i.item
left join {{ ref('districts') }} as d on d.district_code = o.district_code
cross join {{ ref('catalogue_settings') }} as c
