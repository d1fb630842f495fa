-- Every option row of mart_school_gap_to_pass is what the SQL says it is: the indicator now equals
-- the SQL's, the target is the seeds' (threshold, or the 85 % floor), and the section's indicator
-- after the addition (SQL: value + scale × addition × share / students) reaches the target, i.e.
-- current_value plus the addition's effect reaches target_value. Rows the engine computed for
-- another catalogue than the seeds' are not comparable and left out. Failing rows are returned.
select g.*
from {{ ref('mart_school_gap_to_pass') }} as g
cross join {{ ref('catalogue_settings') }} as s
where g.engine_catalogue_version = s.catalogue_version
  and (g.addition <= 0
       or g.sql_current_value is null
       or abs(g.sql_current_value - g.current_value) > 1e-9 * greatest(1.0, abs(g.current_value))
       or abs(g.sql_target_value - g.target_value) > 1e-9 * greatest(1.0, abs(g.target_value))
       or not {{ compare('g.sql_value_after', '>=', 'g.target_value') }}
       or g.current_value >= g.target_value)
