{# veto, as rules/kinds/veto.py: passed = false when the veto is raised (the latest inspection of the
   item failed); no inspection on file is undecided, or clear where settings say so. #}
{% macro rule_kind__veto(judged) %}
    select r.rule_id, dy.district_code, dy.year,
           case when i.result is not null then i.result <> 'fail'
                when st.veto_without_inspection = 'clear' then true
           end as passed,
           cast(null as double) as value,
           case when i.result is null and not (st.veto_without_inspection = 'clear') then 'no inspection of ' || item.value_text
                when i.result = 'fail' then 'veto raised: ' || coalesce(i.note, '') end as reason,
           true as due
    from dy
    cross join rules as r
    cross join settings as st
    inner join params as item on item.rule_id = r.rule_id and item.param = 'item'
    left join ({{ district_inspections() }}) as i
        on i.district_code = dy.district_code and i.year = dy.year and i.item = item.value_text
    where r.kind = 'veto'
{% endmacro %}
