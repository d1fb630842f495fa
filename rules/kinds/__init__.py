"""District rule kinds, one module per kind (docs/rules.md, "Adding a rule kind").

Each module `rules/kinds/<kind>.py` holds everything the engine knows about one kind of district
rule: how a rule of the kind is judged with its explanation (`evaluate`), its fast verdict for
the hot path (`verdict`), what the verdict reads (counters, district facts, coefficients), and
the names of the counters the schools add for it. `registry.py` builds the dispatch from the
modules; `base.py` holds the contract and what several kinds share. The SQL half of each kind is
`dbt_project/macros/kinds/<kind>.sql`; tests/rules/test_kinds.py fails when either half is missing.

This file imports nothing: the package's modules are compiled by mypyc, this one is not.
"""
