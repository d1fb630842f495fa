"""TLS and credentials for the receiver tests: a test CA and a server certificate for 127.0.0.1
made with openssl, an HTTPS webhook receiver that checks the ``Authorization`` header, and
Alertmanager's ``--web.config.file`` (TLS + basic auth, its password stored as a bcrypt hash).

Without openssl the tests FAIL (never skip), saying what to install.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Certs:
    ca: Path  # what clients trust (JUNHENG_ALERT_CAFILE)
    cert: Path  # the server's certificate, for 127.0.0.1 and localhost, signed by ca
    key: Path


def make_test_ca(folder: Path) -> Certs:
    """A CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost) signed by it, in `folder`."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl is needed to make the test certificates: apt-get install -y openssl", pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        proc = subprocess.run([openssl, *args], cwd=folder, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=junheng test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    )
    return Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key")


def server_context(ca: Certs) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.cert, ca.key)
    return context


@dataclass
class AuthReceiver:
    """An HTTPS webhook receiver on loopback. It answers 200 and records a POST whose
    ``Authorization`` header is one of ``accepted``, and 401 (recording nothing, echoing the header
    it got in its body) otherwise."""

    server: ThreadingHTTPServer
    accepted: set[str] = field(default_factory=set)
    posts: list[tuple[str, Any, str]] = field(default_factory=list)  # (path, body, Authorization)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self) -> list[Any]:
        with self.lock:
            return [b for _, b, _ in self.posts]


def start_auth_receiver(ca: Certs) -> AuthReceiver:
    holder: dict[str, AuthReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            rec = holder["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization") or ""
            with rec.lock:
                ok = auth in rec.accepted
                if ok:
                    rec.posts.append((self.path, json.loads(body or b"null"), auth))
                else:
                    rec.refused += 1
            # a careless receiver echoes what it got: the evaluator must scrub it from its errors
            reply = b"" if ok else json.dumps({"error": "unauthorized", "got": auth}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context(ca).wrap_socket(server.socket, server_side=True)
    holder["r"] = AuthReceiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["r"]


def bcrypt_hash(password: str) -> str:
    """The bcrypt hash Alertmanager's basic_auth_users wants (glibc's crypt, Python 3.11's crypt module)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # deprecated (removed in 3.13); the project is Python 3.11

    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 6))
    if not hashed or not hashed.startswith("$2"):
        pytest.fail(
            "this system's crypt() cannot make bcrypt hashes (needed for Alertmanager's basic auth)", pytrace=False
        )
    return hashed


def alertmanager_web_config(path: Path, ca: Certs, user: str, password: str) -> Path:
    """Alertmanager's --web.config.file: TLS with the test certificate, one basic-auth user."""
    path.write_text(
        f"tls_server_config:\n  cert_file: {ca.cert}\n  key_file: {ca.key}\n"
        f"basic_auth_users:\n  {user}: '{bcrypt_hash(password)}'\n",
        encoding="utf-8",
    )
    return path
