-- mart_district_outlook's trends are the SQL's: the slope the engine drew through an item's values
-- equals regr_slope over the same district's yearly values; a district at risk names its items, has
-- a target year still to come, and is projected after it (or never). Districts the engine judged by
-- another catalogue than the seeds' are left out.
with outlook as (
    select * from {{ ref('mart_district_outlook') }} where engine_catalogue_version = catalogue_version
)

select district_code, item, 'slope differs from the SQL''s' as problem
from outlook
where item_slope is not null
  and (sql_slope is null or abs(sql_slope - item_slope) > 1e-9 * greatest(1.0, abs(item_slope)))
union all
select district_code, item, 'at risk without a reason'
from outlook
where at_risk and (len(risk_items) = 0 or year >= target_year
                   or (district_projected_year is not null and district_projected_year <= target_year))
