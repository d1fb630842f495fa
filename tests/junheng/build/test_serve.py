"""`junheng serve` without Kafka (the builder only watches the landing folder): a failed build is one
line in the log, publishes nothing, and is tried again at the next landing change; SIGTERM during a
build abandons it (dbt stopped, nothing published) and exits 0.

Each test starts from a copy of the built warehouse (version 1 published, judged as of the
`built` fixture's date), so the builder starts idle; a correction landed by the embedded driver is
the change it must build. (The Kafka tests, tests/kafka/test_published_marts.py, and the kills,
tests/faults/test_builder_kills.py, cover the rest.)
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from publish_helpers import (ServeProcess, alive, child_holding, current_version, land_enrolment_correction,
                             published_value, students_sql, wait_until)

pytestmark = [pytest.mark.slow]

AS_OF = "2026-06-30"   # the `built` fixture's
BUILD_TIMEOUT_S = 300

_HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(600)
"""






def test_a_failed_build_is_one_line_and_retried_at_the_next_change(built_copy, tmp_path):
    wh = built_copy("failing")
    with ServeProcess(wh, tmp_path / "serve.log", as_of=AS_OF, debounce=0.5) as serve:
        idle = serve.wait_for(lambda s: s["state"] == "idle", 60, "the builder to start idle")
        assert idle["published"]["version"] == 1 and idle["builds"] == {"ok": 0, "failed": 0, "abandoned": 0}

        holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(wh / "work" / "junheng.duckdb")],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            school, year, section, after = land_enrolment_correction(wh, skip=0)
            failed = serve.wait_for(lambda s: s["builds"]["failed"] >= 1, BUILD_TIMEOUT_S, "a failed build")
        finally:
            holder.kill()
            holder.wait()
        last = failed["last_build"]
        assert last["ok"] is False and last["stage"] == "dbt" and f"process {holder.pid}" in last["error"]
        log = [line for line in serve.log_tail(200).splitlines() if "FAILED" in line]
        assert len(log) == 1 and "build FAILED at dbt" in log[0] and "still serving version 1" in log[0], log
        assert "Traceback" not in serve.log_tail(200)
        assert current_version(wh) == 1 and published_value(wh, students_sql(school, year, section)) == after - 40

        # the landing changes: the builder tries again at once (not after its 10 s backoff)
        second = land_enrolment_correction(wh, skip=1)

        def both_published(s: dict) -> bool:
            return s["state"] == "idle" and (s.get("published") or {}).get("version", 0) >= 2 \
                and published_value(wh, students_sql(*second[:3])) == second[3]
        status = serve.wait_for(both_published, BUILD_TIMEOUT_S, "the next change to be built and published")
        assert status["builds"]["failed"] == 1 and status["builds"]["ok"] >= 1 and status["last_build"]["ok"] is True
        # one warm dbt child served every build, and it is still there for the next
        assert status["dbt"]["started"] == 1 and status["dbt"]["commands"] >= 1 and alive(status["dbt"]["pid"])
        assert published_value(wh, students_sql(school, year, section)) == after
        assert serve.stop() == 0


def test_sigterm_during_a_build_abandons_it_and_exits_0(built_copy, tmp_path):
    wh = built_copy("stopping")
    with ServeProcess(wh, tmp_path / "serve.log", as_of=AS_OF, debounce=0.5) as serve:
        serve.wait_for(lambda s: s["state"] == "idle", 60, "the builder to start idle")
        land_enrolment_correction(wh, skip=0)
        working = wh / "work" / "junheng.duckdb"
        dbt = wait_until(lambda: serve.alive() and child_holding(serve.proc.pid, working), BUILD_TIMEOUT_S,
                         "dbt building the correction")
        started = time.monotonic()
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(30) == 0, serve.log_tail()
        assert time.monotonic() - started < 20, "stopping waited for the build instead of abandoning it"
    status = json.loads((wh / "serve.json").read_text(encoding="utf-8"))
    assert status["state"] == "stopped" and status["builds"] == {"ok": 0, "failed": 0, "abandoned": 1}
    assert "build abandoned" in serve.log_path.read_text(encoding="utf-8")
    assert current_version(wh) == 1 and not (wh / "published" / "v000002").exists()
    assert not (wh / "work" / "state.json").exists(), "an abandoned build's working database is not trusted"
    assert not alive(dbt), "dbt was stopped with the build"
