"""Receivers that want credentials and speak TLS (issue #12 item 7): the webhook gets a bearer token
or basic auth from the environment, Alertmanager basic auth, and both are verified against a CA
file (JUNHENG_ALERT_CAFILE). Tested against an HTTPS receiver with a certificate made by openssl and
against a real Alertmanager with --web.config.file (TLS + basic_auth_users).

A refused credential or an untrusted certificate is one clear, permanent error (not retried); the
state changes stay queued, so fixing the credential delivers them with the next evaluation; no
token or password appears in `junheng alerts --json`, its stderr, the warehouse or Alertmanager's log.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from alerting_helpers import (
    AS_OF,
    ROOT,
    Alertmanager,
    alertmanager_binary,
    am_test_config,
    fake_marts,
    free_port,
    wait_until,
)
from tls_helpers import Certs, alertmanager_web_config, make_test_ca, start_auth_receiver

from junheng.alerting.delivery import AlertmanagerClient, ReceiverAuth
from junheng.settings import AlertSettings

BEHIND = ("370203", 2025, 2023, False, False, ["C5: only 0 of 4 (0%)", "C9: pay 1.08e+05, needs >= 1.12e+05"])
DEADLINE = ("370211", 2025, 2023, True, False, ["D3: no recognition_application by the deadline 2026-05-31"])
CITY = (2025, 10, 5, 1.0, False, True, True)
FIRED = 4  # C5, C9, D3 and the city off track


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_test_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_receiver(certs):
    rec = start_auth_receiver(certs)
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def warehouse(tmp_path) -> Path:
    wh = tmp_path / "wh"
    wh.mkdir()
    fake_marts(wh / "junheng.duckdb", [BEHIND, DEADLINE], city=[CITY])
    return wh


def _alerts(warehouse: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`junheng alerts --json` with `env` as its only JUNHENG_ALERT* settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JUNHENG_ALERT", "JUNHENG_KAFKA"))}
    full = {
        **base,
        **env,
        "JUNHENG_ALERT_RETRIES": "3",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "junheng.cli",
            "alerts",
            "--warehouse",
            str(warehouse),
            "--as-of",
            AS_OF.isoformat(),
            "--no-stream",
            "--json",
        ],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


def _no_secret(secrets_: list[str], texts: list[str], paths: list[Path]) -> None:
    files = 0
    for s in secrets_:
        for text in texts:
            assert s not in text
    for root in paths:
        for f in [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]:
            files += 1
            data = f.read_bytes()
            assert not any(s.encode() in data for s in secrets_), f"a secret in {f}"
    assert files > 0


def _token() -> str:
    return secrets.token_urlsafe(24)


def test_webhook_bearer_token_over_verified_tls(https_receiver, certs, warehouse):
    token = _token()
    https_receiver.accepted = {f"Bearer {token}"}
    proc, run = _alerts(
        warehouse,
        {
            "JUNHENG_ALERT_WEBHOOK_URL": https_receiver.url + "/hook",
            "JUNHENG_ALERT_WEBHOOK_TOKEN": token,
            "JUNHENG_ALERT_CAFILE": str(certs.ca),
        },
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (delivery,) = run["deliveries"]
    assert delivery["ok"] and delivery["sent"] == FIRED and delivery["target"] == https_receiver.url + "/hook"
    (body,) = https_receiver.bodies()
    assert len(body["alerts"]) == FIRED and https_receiver.posts[0][2] == f"Bearer {token}"
    _no_secret([token], [proc.stdout, proc.stderr], [warehouse])


def test_a_refused_token_is_not_retried_and_loses_nothing(https_receiver, certs, warehouse):
    """Rotating the token: the receiver takes the new one first; an evaluation still sending the old
    one is refused once (401, not retried), its state changes stay queued and go out with the next
    evaluation, which sends the new token."""
    old, new = _token(), _token()
    https_receiver.accepted = {f"Bearer {new}"}
    env = {"JUNHENG_ALERT_WEBHOOK_URL": https_receiver.url + "/hook", "JUNHENG_ALERT_CAFILE": str(certs.ca)}
    refused, run = _alerts(warehouse, {**env, "JUNHENG_ALERT_WEBHOOK_TOKEN": old})
    assert refused.returncode == 2 and run["counts"]["fired"] == FIRED
    (delivery,) = run["deliveries"]
    assert not delivery["ok"] and delivery["attempts"] == 1 and https_receiver.refused == 1
    assert "HTTP 401" in delivery["error"] and "refused the credentials" in delivery["error"]
    assert '"got": "Bearer ***"' in delivery["error"]  # the receiver echoed the token: scrubbed
    assert run["pending"] == {"webhook": FIRED} and not https_receiver.posts

    delivered, again = _alerts(warehouse, {**env, "JUNHENG_ALERT_WEBHOOK_TOKEN": new})
    assert delivered.returncode == 0 and again["counts"]["fired"] == 0 and again["pending"] == {}
    (body,) = https_receiver.bodies()
    assert {a["alert_id"] for a in body["alerts"]} == {a["alert_id"] for a in run["fired"]}
    _no_secret([old, new], [refused.stdout, refused.stderr, delivered.stdout, delivered.stderr], [warehouse])


def test_an_untrusted_certificate_is_one_clear_error(https_receiver, warehouse):
    token = _token()
    https_receiver.accepted = {f"Bearer {token}"}
    proc, run = _alerts(
        warehouse, {"JUNHENG_ALERT_WEBHOOK_URL": https_receiver.url + "/hook", "JUNHENG_ALERT_WEBHOOK_TOKEN": token}
    )  # no CA file: the system's CAs
    (delivery,) = run["deliveries"]
    assert proc.returncode == 2 and not delivery["ok"] and delivery["attempts"] == 1
    assert "is not trusted" in delivery["error"] and "JUNHENG_ALERT_CAFILE" in delivery["error"]
    assert not https_receiver.posts and run["pending"] == {"webhook": FIRED}
    _no_secret([token], [proc.stdout, proc.stderr], [warehouse])


def test_webhook_basic_auth_from_the_environment(https_receiver, certs, warehouse):
    password = _token()
    https_receiver.accepted = {"Basic " + base64.b64encode(f"bureau:{password}".encode()).decode()}
    proc, run = _alerts(
        warehouse,
        {
            "JUNHENG_ALERT_WEBHOOK_URL": https_receiver.url + "/hook",
            "JUNHENG_ALERT_WEBHOOK_USERNAME": "bureau",
            "JUNHENG_ALERT_WEBHOOK_PASSWORD": password,
            "JUNHENG_ALERT_CAFILE": str(certs.ca),
        },
    )
    assert proc.returncode == 0 and run["deliveries"][0]["sent"] == FIRED, proc.stdout[-2000:]
    assert len(https_receiver.bodies()) == 1
    encoded = https_receiver.posts[0][2].split()[1]
    _no_secret([password, encoded], [proc.stdout, proc.stderr], [warehouse])


def test_receiver_settings_are_checked_and_never_printed():
    s = AlertSettings.from_env(
        {
            "JUNHENG_ALERT_WEBHOOK_TOKEN": "tok-3c1f9a77",
            "JUNHENG_ALERTMANAGER_USERNAME": "am",
            "JUNHENG_ALERTMANAGER_PASSWORD": "pw-8d2e4b19",
        }
    )
    assert s.webhook_token == "tok-3c1f9a77" and "tok-3c1f9a77" not in repr(s) and "pw-8d2e4b19" not in repr(s)
    auth = ReceiverAuth(token="tok-3c1f9a77", cafile=None)
    assert auth.headers() == {"Authorization": "Bearer tok-3c1f9a77"} and "tok-3c1f9a77" not in repr(auth)
    with pytest.raises(ValueError, match="not both"):
        AlertSettings.from_env(
            {
                "JUNHENG_ALERT_WEBHOOK_TOKEN": "t",
                "JUNHENG_ALERT_WEBHOOK_USERNAME": "u",
                "JUNHENG_ALERT_WEBHOOK_PASSWORD": "p",
            }
        )
    with pytest.raises(ValueError, match="go together"):
        AlertSettings.from_env({"JUNHENG_ALERTMANAGER_USERNAME": "am"})


# ---------------------------------------------------------------------- a real Alertmanager, TLS + basic auth
@pytest.fixture
def secured_alertmanager(receiver, certs, tmp_path):
    """Alertmanager on a free port with --web.config.file: HTTPS with the test certificate and one
    basic-auth user; yields (Alertmanager, user, password)."""
    binary = alertmanager_binary()
    user, password = "junheng", _token()
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(am_test_config(receiver.url)), encoding="utf-8")
    web = alertmanager_web_config(tmp_path / "web.yml", certs, user, password)
    port = free_port()
    log = tmp_path / "alertmanager.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.config.file={web}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    am = Alertmanager(f"https://127.0.0.1:{port}", proc, log)
    client = AlertmanagerClient(am.url, auth=ReceiverAuth(username=user, password=password, cafile=str(certs.ca)))

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"Alertmanager exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        return client.ready()

    try:
        wait_until(ready, 20, what="Alertmanager /-/ready over TLS with basic auth")
        yield am, client, user, password
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_alertmanager_over_tls_with_basic_auth(secured_alertmanager, certs, warehouse):
    am, client, user, password = secured_alertmanager
    # Alertmanager itself refuses a request without the credentials
    context = ssl.create_default_context(cafile=str(certs.ca))
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(am.url + "/api/v2/alerts", timeout=5, context=context)
    assert anonymous.value.code == 401

    env = {
        "JUNHENG_ALERTMANAGER_URL": am.url,
        "JUNHENG_ALERTMANAGER_USERNAME": user,
        "JUNHENG_ALERT_CAFILE": str(certs.ca),
    }
    wrong = _token()
    refused, bad = _alerts(warehouse, {**env, "JUNHENG_ALERTMANAGER_PASSWORD": wrong})
    (delivery,) = bad["deliveries"]
    assert refused.returncode == 2 and delivery["attempts"] == 1 and "HTTP 401" in delivery["error"]

    proc, run = _alerts(warehouse, {**env, "JUNHENG_ALERTMANAGER_PASSWORD": password})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (delivery,) = run["deliveries"]
    assert delivery["ok"] and delivery["channel"] == "alertmanager" and delivery["target"] == am.url
    active = wait_until(
        lambda: [a for a in client.alerts() if a["labels"].get("service") == "junheng"],
        what="the alerts in Alertmanager",
    )
    assert len(active) == FIRED
    _no_secret([password, wrong], [refused.stdout, refused.stderr, proc.stdout, proc.stderr], [warehouse, am.log])
