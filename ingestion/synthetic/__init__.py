"""Reproducible synthetic school and district events for Qingdao (and fake districts at scale).

Used by the demo, the tests and the benchmarks. One seed gives byte-identical JSONL::

    from ingestion.synthetic import generate_city
    city = generate_city(seed=2021, schools=1000, bad_fraction=0.01)
    city.write_jsonl("events.jsonl")
    city.manifest["valid_unique"], city.manifest["bad"]

The story (which district attains the standard when, and why) is in :mod:`.profiles`; how school
values are placed relative to the national thresholds is in :mod:`.schools` and :mod:`.yearly`.
For national-scale runs use :class:`CityStream` or :func:`write_city`, which do not keep the lines
in memory. Command line: ``python -m ingestion.synthetic --help``.
"""

from .bad_input import MAX_LINE_BYTES, REASONS
from .city import EVENT_TYPES, CityStream, SyntheticCity, generate_city, write_city
from .profiles import QINGDAO, DistrictProfile, synthetic_profiles

__all__ = [
    "EVENT_TYPES",
    "MAX_LINE_BYTES",
    "QINGDAO",
    "REASONS",
    "CityStream",
    "DistrictProfile",
    "SyntheticCity",
    "generate_city",
    "synthetic_profiles",
    "write_city",
]
