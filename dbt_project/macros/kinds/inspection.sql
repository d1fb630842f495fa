{# inspection, as rules/kinds/inspection.py: the district's latest inspection of the item passed; no
   inspection on file is undecided. #}
{% macro rule_kind__inspection(judged) %}
    select r.rule_id, dy.district_code, dy.year,
           case when i.result is not null then i.result = 'pass' end as passed,
           cast(null as double) as value,
           case when i.result is null then 'no inspection of ' || item.value_text
                when i.result <> 'pass' then 'inspection failed: ' || coalesce(i.note, '') end as reason,
           true as due
    from dy
    cross join rules as r
    inner join params as item on item.rule_id = r.rule_id and item.param = 'item'
    left join ({{ district_inspections() }}) as i
        on i.district_code = dy.district_code and i.year = dy.year and i.item = item.value_text
    where r.kind = 'inspection'
{% endmacro %}
