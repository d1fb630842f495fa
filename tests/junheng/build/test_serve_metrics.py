"""The builder's metrics and health (issue #12 item 1): `junheng serve --metrics-port` says, on
/metrics, how many builds succeeded and failed and how long they took, how old the published marts
are; /readyz is 503 after a failed build and 200 again after the next good one; /healthz stays 200.

A real build fails the way test_serve.py makes it fail: another process holds the working database."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from publish_helpers import ServeProcess, land_enrolment_correction, wait_until
from test_serve import _HOLD, AS_OF, BUILD_TIMEOUT_S

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _samples(text: str) -> dict[str, float]:
    """The exposition's samples: 'name{labels}' -> value (comments left out)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_builder_metrics_and_readiness_follow_its_builds(built_copy, tmp_path):
    wh = built_copy("metrics")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with ServeProcess(
        wh, tmp_path / "serve.log", as_of=AS_OF, debounce=0.5, extra_args=["--metrics-port", str(port)]
    ) as serve:
        serve.wait_for(lambda s: s["state"] == "idle", 60, "the builder to start idle")
        status, body = _get(f"{base}/readyz")
        assert status == 200 and "serving version 1" in body
        m = _samples(_get(f"{base}/metrics")[1])
        assert m['junheng_builds_total{result="ok"}'] == m['junheng_builds_total{result="failed"}'] == 0
        assert 0 <= m["junheng_marts_age_seconds"] < 3600 and m["junheng_marts_published_timestamp_seconds"] > 0
        assert any(k.startswith("junheng_info{") and 'process="builder"' in k for k in m)

        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(wh / "work" / "junheng.duckdb")], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            land_enrolment_correction(wh, skip=0)
            serve.wait_for(lambda s: s["builds"]["failed"] >= 1, BUILD_TIMEOUT_S, "a failed build")
        finally:
            holder.kill()
            holder.wait()
        m = _samples(_get(f"{base}/metrics")[1])
        assert m['junheng_builds_total{result="failed"}'] == 1 and m['junheng_builds_total{result="ok"}'] == 0
        assert m['junheng_build_duration_seconds_count{result="failed"}'] == 1
        assert m["junheng_marts_pending_seconds"] > 0  # the correction waits for a build that works
        status, body = _get(f"{base}/readyz")
        assert status == 503 and "FAILED at dbt" in body, body
        assert _get(f"{base}/healthz")[0] == 200

        land_enrolment_correction(wh, skip=1)
        serve.wait_for(
            lambda s: s["state"] == "idle" and (s.get("published") or {}).get("version", 0) >= 2,
            BUILD_TIMEOUT_S,
            "the next change to be published",
        )
        ready = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(_get(f"{base}/readyz")), 10, "/readyz")
        assert "published version 2" in ready[1]
        m = _samples(_get(f"{base}/metrics")[1])
        assert m['junheng_builds_total{result="ok"}'] == 1 and m['junheng_builds_total{result="failed"}'] == 1
        assert m['junheng_build_duration_seconds_sum{result="ok"}'] > 0
        assert m["junheng_marts_age_seconds"] < 120 and m["junheng_marts_pending_seconds"] == 0
        assert serve.stop() == 0
