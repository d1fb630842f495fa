"""Report (not assert) what one validate() call costs on a 500-event micro-batch."""

from __future__ import annotations

import statistics
import time

from gx_builders import finance, mixed_batch  # noqa: E402
from gx_builders import statistics as district_statistics

RUNS = 5


def _measure(validator, batch):
    validator.validate(batch)  # warm: first call of a suite builds GX's metric registry caches
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        validator.validate(batch)
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def test_report_ms_per_500_event_batch(validator, capsys, record_property):
    clean = mixed_batch(500, seed=3)
    dirty = list(clean)
    for i in range(0, 500, 100):  # 1% bad events, in two suites
        dirty[i] = finance(teacher_training_yuan=9e9)
        dirty[i + 1] = district_statistics(satisfaction_pct=150)
    lines = []
    for name, batch in (("clean", clean), ("1% bad", dirty)):
        best, median = _measure(validator, batch)
        record_property(f"gx_ms_500_{name}", round(median, 1))
        lines.append(
            f"GX validate(), 500-event mixed batch, {name}: min {best:.0f} ms, median {median:.0f} ms "
            f"over {RUNS} calls ({median / 500:.2f} ms/event)"
        )
    assert validator.validate(dirty).count(None) == 490
    with capsys.disabled():
        print("\n" + "\n".join(lines))
