-- Alerts on districts falling behind (one row per alert × state change). Alerting comes later: the
-- model exists now, empty but typed, so BI tools and the alerting service can bind to its contract.
select
    cast(null as varchar)   as alert_id,
    cast(null as varchar)   as district_code,
    cast(null as varchar)   as rule_id,
    cast(null as varchar)   as severity,
    cast(null as varchar)   as state,
    cast(null as timestamp) as starts_at,
    cast(null as timestamp) as ends_at,
    cast(null as varchar)   as summary
where false
