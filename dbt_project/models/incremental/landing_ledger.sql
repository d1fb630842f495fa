-- Every landing file the warehouse's tables include: this build's new files are appended once the
-- marts are built (the refs below), so a build that stops part-way includes them again next time
-- (the staging tables drop rows of a file they read again: rebuilding is idempotent).
-- depends_on: {{ ref('mart_school_section_indicators') }}
-- depends_on: {{ ref('mart_school_section_status') }}
-- depends_on: {{ ref('mart_district_balance') }}
-- depends_on: {{ ref('mart_district_attainment') }}
-- depends_on: {{ ref('mart_district_accountability') }}
-- depends_on: {{ ref('mart_city_progress') }}
-- depends_on: {{ ref('mart_school_gap_to_pass') }}
-- depends_on: {{ ref('mart_district_gap_to_pass') }}
-- depends_on: {{ ref('mart_district_outlook') }}
{{ config(materialized='incremental', incremental_strategy='append') }}
select landing_table, landed_file, writer, batch, current_timestamp as included_at
from {{ ref('landing_new_files') }}
