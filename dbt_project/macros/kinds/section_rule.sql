{# section_rule (RA-S), as rules/kinds/section_rule.py: per level, every included section with
   students (or unknown students) passes RA-S (int_section_status); levels without sections are not
   judged, and a district-year without any is undecided. #}
{% macro rule_kind__section_rule(judged) %}
    with levels as (
        select
            district_code, year, section,
            count_if(students > 0 or students is null)                               as total,
            count_if(students > 0 and passed = false)                                as failed,
            count_if((students > 0 and passed is null) or students is null)          as undecided
        from {{ ref('int_section_status') }}
        where included and {{ changed('district_code', none) }}
        group by district_code, year, section
    ),

    counted as (
        select r.rule_id, l.district_code, l.year,
               {{ all_of(from_counts('l.failed', 'l.undecided', 'l.total')) }} as passed,
               cast(sum(l.failed) as double) as value,
               case when sum(l.failed) > 0 then sum(l.failed) || ' sections fail RA-S'
                    when sum(l.undecided) > 0 then 'some sections undecided' end as reason,
               true as due
        from levels as l
        cross join rules as r
        where r.kind = 'section_rule' and l.total > 0
        group by r.rule_id, l.district_code, l.year
    )

    select * from counted
    union all
    select r.rule_id, dy.district_code, dy.year, cast(null as boolean), cast(null as double), 'no sections reported', true
    from dy
    cross join rules as r
    where r.kind = 'section_rule'
      and not exists (select 1 from counted as j
                      where j.rule_id = r.rule_id and j.district_code = dy.district_code and j.year = dy.year)
{% endmacro %}
