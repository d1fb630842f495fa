"""The builder (`junheng serve`) is SIGKILLed mid-build: the published marts stay intact and the
next build publishes the right marts (issue #11; docs/reliability.md).

One warehouse, landed by the embedded driver (no broker needed: the builder only watches the
landing folder), published once by `junheng serve`; then a correction is landed and the builder is
killed three times, each at a worse moment:

1. while its dbt writes the working database -- dbt dies with it (parent-death signal);
2. right after the new version's folder was written, before it is renamed into place;
3. right after the new version was renamed into place, before ``published/current`` is switched.

After each kill the published marts are exactly as before (every file of the served version
byte for byte, ``current`` unchanged, a reader sees the old value). A builder started again
publishes the correction, and its marts equal a clean `junheng build` of a copy of the same landing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from pathlib import Path

import pytest
from fault_helpers import AS_OF, MartBuild, mart_differences, mart_snapshot
from publish_helpers import (
    ServeProcess,
    alive,
    child_holding,
    current_version,
    enrolment_correction,
    published_value,
    students_sql,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

BUILD_TIMEOUT_S = 420
DBT_GONE_WITHIN_S = 5.0


def _served(warehouse: Path) -> dict[str, str]:
    """What readers get: where ``published/current`` points and every file of that version, digested."""
    root = warehouse / "published"
    current = os.readlink(root / "current")
    out = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / current).rglob("*"))
        if p.is_file()
    }
    out["current ->"] = current
    return out


def test_killed_builder_leaves_the_published_marts_and_the_next_build_publishes_the_right_ones(tmp_path: Path) -> None:
    from ingestion.synthetic import generate_city
    from streams.embedded import EmbeddedRunner

    wh = tmp_path / "wh"
    city = generate_city(seed=17, schools=40)
    events = tmp_path / "events.jsonl"
    city.write_jsonl(events)
    assert EmbeddedRunner(wh).run([events]).balanced()

    serve = ServeProcess(wh, tmp_path / "serve-1.log", as_of=AS_OF, debounce=0.5)
    serve.wait_published(1, BUILD_TIMEOUT_S)
    served = _served(wh)
    line, (school, year, section, after) = enrolment_correction(city.lines)
    query = students_sql(school, year, section)
    before = published_value(wh, query)
    assert before == after - 40

    (tmp_path / "correction.jsonl").write_bytes(line + b"\n")
    assert EmbeddedRunner(wh).run([tmp_path / "correction.jsonl"]).counts["applied"] == 1

    # 1. SIGKILL while dbt writes the working database: dbt goes with it
    working = wh / "work" / "junheng.duckdb"
    dbt = wait_until(
        lambda: serve.alive() and child_holding(serve.proc.pid, working),
        BUILD_TIMEOUT_S,
        "the builder's dbt to open the working database",
    )
    assert serve.kill() == -signal.SIGKILL
    wait_until(lambda: not alive(dbt), DBT_GONE_WITHIN_S, f"dbt (pid {dbt}) to die with the killed builder")
    assert _served(wh) == served and published_value(wh, query) == before

    # 2. and 3. SIGKILL while publishing: before the rename, then before the switch
    for n, stage in enumerate(("seal", "switch"), start=2):
        faulted = ServeProcess(
            wh,
            tmp_path / f"serve-{n}.log",
            as_of=AS_OF,
            debounce=0.5,
            env=dict(os.environ, JUNHENG_FAULT_PUBLISH_KILL=stage),
        )
        wait_until(
            lambda faulted=faulted: not faulted.alive(),
            BUILD_TIMEOUT_S,
            f"the builder to be killed at publish ({stage})",
            poll=0.2,
        )
        assert faulted.kill() == -signal.SIGKILL, faulted.log_tail()
        assert "published version" not in faulted.log_tail()
        assert _served(wh) == served, stage
        assert current_version(wh) == 1 and published_value(wh, query) == before
    left = sorted(p.name for p in (wh / "published").iterdir())
    assert "v000002" in left, f"the switch fault should leave a complete version that never became current: {left}"

    # the next builder: the right marts, published
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copytree(wh / "landing", reference / "landing")
    clean = MartBuild(reference)  # a clean one-shot `junheng build`, meanwhile
    try:
        with ServeProcess(wh, tmp_path / "serve-5.log", as_of=AS_OF, debounce=0.5) as again:
            status = again.wait_published(2, BUILD_TIMEOUT_S)
            assert status["builds"] == {"ok": 1, "failed": 0, "abandoned": 0}
            assert again.stop() == 0
        assert current_version(wh) == 2 and published_value(wh, query) == after
        assert sorted(p.name for p in (wh / "published").iterdir()) == ["current", "v000001", "v000002"]
        root = wh / "published"
        assert {
            name: hashlib.sha256((root / name).read_bytes()).hexdigest()  # version 1 untouched throughout
            for name in served
            if name.startswith("v000001/")
        } == {k: v for k, v in served.items() if k.startswith("v000001/")}
        result = clean.result(timeout=BUILD_TIMEOUT_S)
    finally:
        clean.close()
    differences = mart_differences(mart_snapshot(wh / "junheng.duckdb"), mart_snapshot(Path(result["database"])))
    assert not differences, "\n".join(differences[:20])
