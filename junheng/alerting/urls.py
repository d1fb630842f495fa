"""Receiver URLs carry secrets; they are used as given but never shown or kept as given.

A webhook or Alertmanager URL often holds a credential: ``https://user:pass@host/…`` (basic auth),
``…?token=…`` or ``…?sig=…`` (query), ``/services/T0/B0/Xyz…`` (a token as a path segment, as
Slack, Discord and Teams hooks do). What the evaluator prints (``junheng alerts``, ``--json``),
logs, or writes into its reports shows :func:`redact_url` of it instead; an error text that could
quote the URL goes through :func:`scrub`.

``urllib`` does not turn a URL's ``user:pass@`` into an ``Authorization`` header (it fails on it:
"nonnumeric port"), so :func:`split_credentials` takes them out of the URL and into a Basic header,
which is what curl, requests and Alertmanager's own clients do with such a URL.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_url", "scrub", "split_credentials"]

REDACTED = "***"
#: A path segment that looks like a token (Slack, Discord, Teams hooks): 16 or more letters and
#: digits mixed, or 24 or more URL-safe characters of any kind.
_TOKEN_SEGMENT = re.compile(
    r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}"
    r"|[A-Za-z0-9_\-]{24,}"
)


def _host(parts: SplitResult) -> str:
    return parts.netloc.rpartition("@")[2]


def redact_url(url: str | None) -> str:
    """``url`` with its secrets replaced by ``***``: the password of ``user:pass@`` (a user name
    without a password is taken for a token), every query value (the keys stay), the fragment, and
    path segments that look like tokens. Scheme, host, port and the rest of the path stay, so the
    reader still sees where it went. A URL that cannot be parsed is not shown at all."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return f"<a URL that cannot be parsed, {len(url)} characters>"
    netloc = _host(parts)
    if parts.username is not None or parts.password is not None:
        user = parts.username if parts.password is not None else REDACTED
        netloc = f"{user}:{REDACTED}@{netloc}" if parts.password is not None else f"{user}@{netloc}"
    path = "/".join(REDACTED if _TOKEN_SEGMENT.fullmatch(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(
        f"{key}={REDACTED}" if value or "=" in pair else key
        for pair in parts.query.split("&")
        if pair
        for key, _, value in [pair.partition("=")]
    )
    return urlunsplit((parts.scheme, netloc, path, query, REDACTED if parts.fragment else ""))


def _secrets(url: str) -> list[str]:
    """The parts of ``url`` that :func:`redact_url` hides, raw and decoded, longest first."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.fragment, *(seg for seg in parts.path.split("/") if _TOKEN_SEGMENT.fullmatch(seg))]
    found += [pair.partition("=")[2] for pair in parts.query.split("&")]
    if parts.password is not None:
        found.append(parts.password)
    elif parts.username is not None:  # a user name alone is taken for a token
        found.append(parts.username)
    found += [unquote(s.replace("+", " ")) for s in found] + [unquote(s) for s in found]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str | None, url: str | None) -> str | None:
    """``text`` (an error message) with ``url`` replaced by its redacted form and any of its
    secrets that still appear on their own (an exception quoting a host part, a query value)
    replaced by ``***``."""
    if text is None or not url:
        return text
    text = text.replace(url, redact_url(url))
    for secret in _secrets(url):
        text = text.replace(secret, REDACTED)
    return text


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its ``user:pass@`` and the ``Authorization: Basic`` header that carries
    them (percent-escapes decoded, as RFC 3986 userinfo is written); a URL without credentials is
    returned as it is, with no header."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    bare = urlunsplit((parts.scheme, _host(parts), parts.path, parts.query, parts.fragment))
    return bare, {"Authorization": f"Basic {token}"}
