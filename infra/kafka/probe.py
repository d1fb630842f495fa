#!/usr/bin/env python3
"""Readiness probe for the local Kafka broker: one real Metadata request.

Standard library only (no kafka client needed), so infra/kafka/kafka.sh can
use it before any Python dependency is installed.

    python3 probe.py [HOST] [PORT] [TIMEOUT_SECONDS] [CAFILE]

Exit 0 and print "ok broker=<id>@<host>:<port> controller=<id>" when the
broker answers a Metadata v1 request that lists itself and a controller;
exit 1 with the reason on stderr otherwise.

With CAFILE the listener speaks TLS (SSL or SASL_SSL, infra/kafka/secure.sh):
the probe verifies the broker's certificate against CAFILE and sends an
ApiVersions request, the one request a SASL listener answers before
authentication (Metadata would need a login); it prints "ok tls apis=<n>".
kafka.sh only asks after the broker logged "Kafka Server started", i.e. after
it registered with its controller, so a listener that answers means ready.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def metadata(host: str, port: int, timeout: float) -> tuple[list[tuple[int, str, int]], int]:
    """Return ([(node_id, host, port)], controller_id) from a Metadata v1 call."""
    client_id = b"junheng-probe"
    correlation_id = 7
    # header v1: api_key=3 (Metadata), api_version=1, correlation_id, client_id
    header = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i", -1)  # topics = null -> all topics
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        data = _read_exact(sock, size)
    pos = 0

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals

    def take_string() -> str | None:
        nonlocal pos
        (n,) = take(">h")
        if n < 0:
            return None
        s = data[pos : pos + n].decode("utf-8")
        pos += n
        return s

    (corr,) = take(">i")
    if corr != correlation_id:
        raise ValueError(f"correlation id mismatch: {corr}")
    (n_brokers,) = take(">i")
    brokers = []
    for _ in range(n_brokers):
        (node_id,) = take(">i")
        bhost = take_string() or ""
        (bport,) = take(">i")
        take_string()  # rack
        brokers.append((node_id, bhost, bport))
    (controller_id,) = take(">i")
    return brokers, controller_id


def api_versions_tls(host: str, port: int, timeout: float, cafile: str) -> int:
    """The number of APIs the broker lists in an ApiVersions v0 answer over TLS (verified)."""
    client_id = b"junheng-probe"
    correlation_id = 11
    request = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _read_exact(sock, 4))
            data = _read_exact(sock, size)
    corr, error, n_apis = struct.unpack_from(">ihi", data, 0)
    if corr != correlation_id:
        raise ValueError(f"correlation id mismatch: {corr}")
    if error:
        raise ValueError(f"ApiVersions error code {error}")
    return n_apis


def main(argv: list[str]) -> int:
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    port = int(argv[2]) if len(argv) > 2 else 9092
    timeout = float(argv[3]) if len(argv) > 3 else 5.0
    cafile = argv[4] if len(argv) > 4 and argv[4] else None
    if cafile:
        try:
            n_apis = api_versions_tls(host, port, timeout, cafile)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            print(f"not ready: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(f"ok tls apis={n_apis}")
        return 0
    try:
        brokers, controller_id = metadata(host, port, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        print(f"not ready: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not brokers:
        print("not ready: metadata lists no broker", file=sys.stderr)
        return 1
    if controller_id < 0:
        print("not ready: no active controller yet", file=sys.stderr)
        return 1
    b = brokers[0]
    print(f"ok broker={b[0]}@{b[1]}:{b[2]} controller={controller_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
