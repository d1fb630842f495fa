{# no_large_classes_or_schools (C2), as rules/kinds/no_large_classes_or_schools.py: no large class and
   no large-scale school remains (schools of unknown size: undecided). It counts from its
   deadline_year: before it a failure is progress to watch, not a reason to be behind (due). #}
{% macro rule_kind__no_large_classes_or_schools(judged) %}
    select r.rule_id, dyi.district_code, dyi.year,
           case when dyi.large_classes > 0 or dyi.large_schools > 0 then false
                when dyi.large_undecided > 0 or dyi.schools = 0 then null
                else true end as passed,
           cast(dyi.large_classes + dyi.large_schools as double) as value,
           case when dyi.large_classes > 0 or dyi.large_schools > 0
                then dyi.large_classes || ' large classes and ' || dyi.large_schools || ' large-scale schools remain'
                when dyi.large_undecided > 0 then dyi.large_undecided || ' schools lack enrolment' end as reason,
           dyi.year >= (select p.value_number from params as p where p.rule_id = r.rule_id and p.param = 'deadline_year') as due
    from dyi
    cross join rules as r
    where r.kind = 'no_large_classes_or_schools'
{% endmacro %}
