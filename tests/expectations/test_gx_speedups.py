"""The configuration memo (expectations/gx_speedups.py) changes GX's speed, never its verdicts."""

from __future__ import annotations

import copy
import random

from gx_builders import enrolment, finance, mixed_batch, staff, staff_section, statistics

from expectations.gx_speedups import configurations_cached


def _planted(seed: int) -> list[dict]:
    """A realistic batch with a few bad rows of several suites at random places."""
    rng = random.Random(seed)
    events = mixed_batch(150, seed=seed)
    bad = [
        enrolment(primary=(9000, 100)),
        staff(primary=staff_section(10, qualified_teachers=11)),
        statistics(satisfaction_pct=130),
        statistics(monitoring_difference_rate=3),
        finance(public_funds_per_student_yuan=-1),
    ]
    for event in rng.sample(bad, k=rng.randint(1, len(bad))):
        events[rng.randrange(len(events))] = copy.deepcopy(event)
    return events


def test_memo_gives_the_verdicts_gx_gives_without_it(validator):
    try:
        for seed in range(6):
            events = _planted(seed)
            validator.memo_configurations = False
            plain = validator.validate(events)
            plain_failures = list(validator.last_batch_failures)
            validator.memo_configurations = True
            memo = validator.validate(events)
            assert memo == plain and validator.last_batch_failures == plain_failures
            assert any(plain)  # the planted rows were caught
    finally:
        validator.memo_configurations = True


def test_memo_holds_one_configuration_per_expectation_only_inside_the_block(validator):
    expectation = validator.suite("school.enrolment").expectations[0]
    assert expectation.configuration is not expectation.configuration  # GX as shipped
    with configurations_cached():
        first = expectation.configuration
        assert expectation.configuration is first
        with configurations_cached():  # nested: same memo
            assert expectation.configuration is first
    assert expectation.configuration is not first
    assert expectation.configuration == first
