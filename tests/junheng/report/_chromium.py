"""Headless Chromium from Debian (`apt-get install chromium`), driven with nothing but the stdlib.

Two ways in, both used by the tests:

- the command line: `--dump-dom` (the DOM after scripts ran) and `--screenshot`, with
  `--enable-logging=stderr --v=0` so every console message comes out as an `INFO:CONSOLE` line;
- the DevTools protocol over a minimal WebSocket client (RFC 6455, client side: masked text frames out,
  unfragmented or fragmented frames in), to see what the command line cannot: each network request the
  page makes, console messages with their level, uncaught exceptions, and a full-page screenshot.

Chromium runs with its own throw-away profile, no sandbox (root in containers), no GPU, no QUIC, no
background networking, and a host resolver that resolves nothing, so a page can never reach a network.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
MISSING = (
    f"{CHROMIUM} is missing: the report's browser test needs Debian's 'chromium' package "
    "(apt-get install -y chromium; scripts/system-deps.sh installs it)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--force-device-scale-factor=1",
]


def chromium() -> Path:
    """The browser, or AssertionError naming the package (the tests fail, they never skip)."""
    assert CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK), MISSING
    return CHROMIUM


def run_cli(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Chromium once, with a fresh profile; stdout/stderr captured as text."""
    # Chromium's helper processes may still be writing the profile as the browser exits
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        cmd = [str(chromium()), *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, LANG="C.UTF-8")
        )


def console_lines(stderr: str) -> list[str]:
    """The console messages Chromium logged with --enable-logging=stderr (every level is INFO there)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


# ---------------------------------------------------------------------------------------------------
# a minimal WebSocket client (enough for the DevTools protocol on localhost)


class WebSocket:
    def __init__(self, host: str, port: int, path: str, timeout: float = 30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        status, _, self._buffer = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake refused: {status[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buffer)))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def recv(self) -> str:
        message, first_opcode = b"", None
        while True:
            b0, b1 = self._read(2)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping → pong
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x1, 0x2):
                first_opcode, message = opcode, payload
            else:  # continuation
                message += payload
            if fin and first_opcode is not None:
                return message.decode("utf-8")

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


# ---------------------------------------------------------------------------------------------------
# a DevTools session on one page


@dataclass
class PageRun:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled params
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded entries
    failed: list[dict[str, Any]] = field(default_factory=list)  # Network.loadingFailed params
    screenshot: bytes = b""
    dom: str = ""
    size: tuple[int, int] = (0, 0)
    probe: Any = None  # value of the probe expression, if any

    def errors(self) -> list[str]:
        out = [
            f"uncaught: {e.get('exceptionDetails', {}).get('exception', {}).get('description') or e}"
            for e in self.exceptions
        ]
        out += [
            f"console.{c['type']}: {[a.get('value', a.get('description')) for a in c.get('args', [])]}"
            for c in self.console
            if c.get("type") in ("error", "assert", "warning")
        ]
        out += [
            f"log {e['entry'].get('level')}: {e['entry'].get('text')} ({e['entry'].get('url', '')})"
            for e in self.log
            if e.get("entry", {}).get("level") in ("error", "warning")
        ]
        out += [f"request failed: {f.get('errorText')} {f.get('requestId')}" for f in self.failed]
        return out


class DevTools:
    """Launch Chromium with --remote-debugging-port=0 and talk to one page target (flattened session)."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 60):
        self.timeout = timeout
        self.width, self.height = width, height
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-cdp-", ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [
                str(chromium()),
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, LANG="C.UTF-8"),
            start_new_session=True,
        )  # its own process group, so close() can stop every helper process
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = WebSocket("127.0.0.1", int(port), path, timeout=timeout)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
        raise TimeoutError(method)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.call(method, session=self.session, **params)

    def wait_for(self, event: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = next((e for e in self.events if e["method"] == event), None)
        while seen is None and time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    seen = message
        if seen is None:
            raise TimeoutError(event)
        return seen

    def drain(self, seconds: float) -> None:
        """Collect events for a little while (late console messages, late requests)."""
        self.ws.sock.settimeout(0.1)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                try:
                    message = json.loads(self.ws.recv())
                except TimeoutError:
                    continue
                if "method" in message:
                    self.events.append(message)
        finally:
            self.ws.sock.settimeout(self.timeout)

    def evaluate(self, expression: str) -> Any:
        reply = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def load(self, url: str, full_page: bool = True, settle: float = 0.5, probe: str | None = None) -> PageRun:
        """Open `url`, collect what happened, take a screenshot; then evaluate `probe` (an interaction,
        say) and collect again, so errors it causes are in the run too."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.page(f"{domain}.enable")
        self.page(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.events.clear()
        self.page("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.drain(settle)
        dom = self.evaluate("document.documentElement.outerHTML")
        metrics = self.page("Page.getLayoutMetrics")
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        w, h = int(content["width"]), int(content["height"])
        if full_page:
            self.page(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=min(h, 16000),
                deviceScaleFactor=1,
                mobile=False,
            )
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        value = None
        if probe is not None:
            value = self.evaluate(probe)
            self.drain(settle)
        run = PageRun(dom=dom, size=(w, h), screenshot=base64.b64decode(shot["data"]), probe=value)
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Network.requestWillBeSent":
                run.requests.append(p["request"]["url"])
            elif m == "Runtime.consoleAPICalled":
                run.console.append(p)
            elif m == "Runtime.exceptionThrown":
                run.exceptions.append(p)
            elif m == "Log.entryAdded":
                run.log.append(p)
            elif m == "Network.loadingFailed":
                run.failed.append(p)
        return run

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                try:
                    self.call("Browser.close")
                except Exception:
                    pass
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            try:  # renderer, GPU and crashpad helpers outlive the browser process for a moment
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            time.sleep(0.2)
            self._profile.cleanup()

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])
