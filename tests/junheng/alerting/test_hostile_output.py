"""`junheng alerts` shows names inert and receiver URLs without their secrets, and delivers to a
URL with credentials in it (issue #14, items 6 and 7).

Before: alert summaries went to the terminal raw (a district name's ESC/OSC/BEL sequences acted on
the reader's terminal); the webhook URL was printed as given, `?token=…` and `user:pass@` included,
in the normal and the `--json` output and in failure messages; and a `user:pass@` URL was never
delivered (urllib read `pass@host:port` as the port). Now names go through junheng.terminal.plain,
URLs through junheng.alerting.urls.redact_url, and the credentials go as a Basic header.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alerting_helpers import AS_OF, ROOT, fake_marts

from junheng.alerting.urls import redact_url, scrub, split_credentials

JUNHENG = shutil.which("junheng", path=str(Path(sys.executable).parent))
HOSTILE_NAME = "\x1b]0;owned\x07北区\x1b[2J\x9b31m"
USER, PASSWORD, TOKEN = "alerts", "p@ss w0rd:x", "TOKEN-5f1c9e7a"
CONTROLS = ("\x1b", "\x07", "\x9b")


class AuthReceiver:
    """A webhook receiver on loopback that accepts a POST only with the expected Basic header."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.refused = 0
        self.fail_with: int | None = None
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != expected:
                    receiver.refused += 1
                    code = 401
                elif receiver.fail_with:
                    code = receiver.fail_with
                else:
                    receiver.posts.append((self.path, json.loads(body)))
                    code = 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, *, credentials: bool = True) -> str:
        userinfo = (
            f"{USER}:{PASSWORD.replace('@', '%40').replace(' ', '%20').replace(':', '%3A')}@" if credentials else ""
        )
        return f"http://{userinfo}127.0.0.1:{self.server.server_address[1]}/hook?token={TOKEN}&team=ops"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auth_receiver():
    r = AuthReceiver()
    yield r
    r.close()


@pytest.fixture
def hostile_env(tmp_path, monkeypatch) -> dict[str, str]:
    """JUNHENG_DISTRICTS naming 370203 HOSTILE_NAME (for fake_marts here and the CLI there)."""
    from ingestion.reference import districts_csv

    text = districts_csv().read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("370203,"))
    fields = line.split(",")
    path = tmp_path / "districts.csv"
    path.write_text(text.replace(line, ",".join([fields[0], HOSTILE_NAME, *fields[2:]])), encoding="utf-8")
    monkeypatch.setenv("JUNHENG_DISTRICTS", str(path))
    for name in ("JUNHENG_ALERTMANAGER_URL", "JUNHENG_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ, JUNHENG_ALERT_RETRIES="1")


def _alerts(warehouse: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert JUNHENG, "the junheng CLI is installed in the venv (scripts/bootstrap.sh)"
    return subprocess.run(
        [JUNHENG, "alerts", "--warehouse", str(warehouse), "--as-of", AS_OF.isoformat(), "--no-stream", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _no_secret_in(text: str) -> None:
    for secret in (TOKEN, PASSWORD, "p%40ss", "w0rd"):
        assert secret not in text, f"{secret!r} was shown"


def _no_secret_stored(warehouse: Path) -> None:
    for path in warehouse.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (TOKEN, "w0rd"):
                assert secret.encode() not in data, f"{secret!r} is stored in {path}"


@pytest.mark.parametrize("json_mode", [False, True], ids=["default", "json"])
def test_alerts_shows_names_inert_and_urls_redacted_and_delivers_with_credentials(
    tmp_path, hostile_env, auth_receiver, json_mode
):
    wh = tmp_path / "wh"
    wh.mkdir()
    fake_marts(wh / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x"])])
    out = _alerts(wh, hostile_env, "--webhook-url", auth_receiver.url(), *(["--json"] if json_mode else []))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    # delivered: the Basic header came from the URL's user:pass, the query went as it was
    assert auth_receiver.refused == 0
    ((path, body),) = auth_receiver.posts
    assert path == f"/hook?token={TOKEN}&team=ops" and [a["status"] for a in body["alerts"]] == ["firing"]

    shown = out.stdout + out.stderr
    _no_secret_in(shown)
    for ch in CONTROLS:
        assert ch not in shown, f"{ch!r} reached the terminal"
    port = auth_receiver.server.server_address[1]
    target = f"http://alerts:***@127.0.0.1:{port}/hook?token=***&team=***"
    if json_mode:
        run = json.loads(out.stdout)
        assert [d["target"] for d in run["deliveries"]] == [target]
        assert HOSTILE_NAME in run["fired"][0]["summary"]  # JSON escapes it (\u001b); the data is kept
    else:
        assert f"webhook {target}: sent 1" in out.stdout
        assert "\\x1b]0;owned\\x07北区\\x1b[2J\\x9b31m (370203)" in out.stdout
    _no_secret_stored(wh)


def test_a_failed_delivery_reports_the_url_redacted(tmp_path, hostile_env, auth_receiver):
    wh = tmp_path / "wh"
    wh.mkdir()
    fake_marts(wh / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x"])])
    auth_receiver.fail_with = 500
    out = _alerts(wh, hostile_env, "--webhook-url", auth_receiver.url())
    port = auth_receiver.server.server_address[1]
    assert (
        out.returncode == 2
        and (f"FAILED after 1 attempts: RuntimeError: HTTP 500 from http://127.0.0.1:{port}/hook?token=***&team=***")
        in out.stdout
    ), out.stdout[-3000:] + out.stderr[-3000:]
    _no_secret_in(out.stdout + out.stderr)
    _no_secret_stored(wh)
    auth_receiver.fail_with = None  # the next run delivers what was queued
    out = _alerts(wh, hostile_env, "--webhook-url", auth_receiver.url(), "--json")
    assert out.returncode == 0 and len(auth_receiver.posts) == 1
    _no_secret_in(out.stdout + out.stderr)


def test_without_credentials_the_receiver_refuses(tmp_path, hostile_env, auth_receiver):
    """The receiver really checks the header: the same URL without user:pass is refused (401)."""
    wh = tmp_path / "wh"
    wh.mkdir()
    fake_marts(wh / "junheng.duckdb", [("370203", 2025, 2025, False, False, ["DCY: x"])])
    out = _alerts(wh, hostile_env, "--webhook-url", auth_receiver.url(credentials=False))
    assert out.returncode == 2 and auth_receiver.refused == 1 and "HTTP 401" in out.stdout


@pytest.mark.parametrize(
    "url, shown",
    [
        (
            "https://u:secret@hooks.example/x?token=abc&sig=def#frag",
            "https://u:***@hooks.example/x?token=***&sig=***#***",
        ),
        ("https://tokenonly@hooks.example/x", "https://***@hooks.example/x"),
        (
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/T00000000/B00000000/***",
        ),
        (
            "https://discord.com/api/webhooks/1234567890/aB3dEf9hIjK1mN0pQ",
            "https://discord.com/api/webhooks/1234567890/***",
        ),
        ("http://127.0.0.1:9093/api/v2/alerts", "http://127.0.0.1:9093/api/v2/alerts"),
        ("http://h:notaport/x?token=abc", "<a URL that cannot be parsed, 29 characters>"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_split_credentials_and_scrub():
    url = "https://al%40ice:p%40ss@h.example:8443/hook?token=abc123"
    bare, headers = split_credentials(url)
    assert bare == "https://h.example:8443/hook?token=abc123"
    assert base64.b64decode(headers["Authorization"].removeprefix("Basic ")) == b"al@ice:p@ss"
    assert split_credentials("https://h.example/x") == ("https://h.example/x", {})
    said = scrub(f"URLError: cannot reach {url} (token abc123, password p@ss)", url)
    assert said == "URLError: cannot reach https://al%40ice:***@h.example:8443/hook?token=*** (token ***, password ***)"


def test_alertmanager_client_sends_url_credentials_as_basic_auth(auth_receiver):
    from junheng.alerting.delivery import AlertmanagerClient, RetryPolicy

    base = auth_receiver.url().split("/hook")[0]  # http://alerts:…@127.0.0.1:port
    client = AlertmanagerClient(base, RetryPolicy(attempts=1, timeout_s=5))
    report = client.post([{"labels": {"alertname": "X"}, "annotations": {"alert_id": "a1"}}])
    assert report.ok and report.sent == 1 and auth_receiver.refused == 0
    assert auth_receiver.posts[0][0] == "/api/v2/alerts"
    assert report.target == f"http://alerts:***@127.0.0.1:{auth_receiver.server.server_address[1]}"
