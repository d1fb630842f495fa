"""Say clearly, in one line and without a secret, when Kafka will not let us in.

The Kafka clients report a refused login badly. kafka-python 3.0.12 drops the broker's SASL error
response when the broker closes the connection right after it (its transport reads the answer and
the close together, and aborts without handing the answer on), then retries until its bootstrap
timeout and raises ``KafkaTimeoutError: Unable to bootstrap`` after 30 s -- the same words as for
a broker that is down. An untrusted certificate ends the same way. So before the producer or the
worker builds its clients, :func:`preflight` opens one connection with aiokafka (already a
dependency: Faust's client), which does surface the broker's answer, and turns what it learns into
a :class:`KafkaAccessError`:

* the login was refused (wrong user or password, or the user was deleted),
* the broker does not offer the configured SASL mechanism,
* the broker's certificate is not trusted by ``JUNHENG_KAFKA_SSL_CAFILE`` (or the file is missing).

A broker that does not answer at all is *not* an error here: the clients keep their own retrying,
as they always did (a worker may start before its broker). ACLs are checked where they are used:
:func:`topic_access` reads what the principal may do with a topic (Kafka answers
``TOPIC_AUTHORIZATION_FAILED`` both for a topic it hides and for one that does not exist).

Messages never contain the password: they name the user, the mechanism and the variables to fix,
and :func:`redact` removes the password from any text that came from elsewhere.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from junheng.errors import UserError
from junheng.settings import KafkaSettings

__all__ = ["KafkaAccessError", "TopicAccess", "preflight", "redact", "ssl_context", "topic_access"]

REDACTED = "***"
#: Kafka error codes a Metadata answer gives per topic
_UNKNOWN_TOPIC = 3
_TOPIC_AUTHORIZATION_FAILED = 29


class KafkaAccessError(UserError):
    """Kafka refused the login, the certificate or the operation; ``str()`` is one line, no secret."""


def redact(text: str, settings: KafkaSettings) -> str:
    """``text`` with the SASL password replaced by ``***`` (a client error could quote it)."""
    password = settings.sasl_password
    return text.replace(password, REDACTED) if password and len(password) >= 3 else text


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """The TLS context of an SSL/SASL_SSL connection: the system's CAs, or JUNHENG_KAFKA_SSL_CAFILE."""
    try:
        return ssl.create_default_context(cafile=settings.ssl_cafile)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaAccessError(
            f"JUNHENG_KAFKA_SSL_CAFILE={settings.ssl_cafile}: cannot read a CA bundle from it "
            f"({type(exc).__name__}: {exc.strerror or exc})"
        ) from None


def _servers(settings: KafkaSettings) -> list[tuple[str, int]]:
    out = []
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if host and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


def preflight(settings: KafkaSettings | None = None, timeout_s: float = 10.0) -> None:
    """Log in once to the first bootstrap server that answers; raise :class:`KafkaAccessError` if it
    refuses the login, the mechanism or the certificate. Nothing to check for PLAINTEXT."""
    settings = settings or KafkaSettings()
    protocol = settings.security_protocol.upper()
    if protocol == "PLAINTEXT":
        return
    context = ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    # a loop of its own, never set as the current one: Faust creates its loop after this
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(_login(settings, protocol, context), timeout_s * 2))
    except TimeoutError:
        pass  # not answering is for the clients' own retries
    finally:
        loop.close()


async def _login(settings: KafkaSettings, protocol: str, context: ssl.SSLContext | None) -> None:
    from aiokafka import errors as aerrors
    from aiokafka.conn import create_conn

    for host, port in _servers(settings):
        where = f"{host}:{port}"
        try:
            conn = await create_conn(
                host,
                port,
                client_id="junheng-preflight",
                request_timeout_ms=10_000,
                ssl_context=context,
                security_protocol=protocol,
                sasl_mechanism=settings.sasl_mechanism or "PLAIN",
                sasl_plain_username=settings.sasl_username,
                sasl_plain_password=settings.sasl_password,
            )
        except aerrors.SaslAuthenticationFailed:
            raise KafkaAccessError(
                f"Kafka at {where} refused the login of user {settings.sasl_username!r} "
                f"({settings.sasl_mechanism} authentication failed): check JUNHENG_KAFKA_SASL_USERNAME and "
                f"JUNHENG_KAFKA_SASL_PASSWORD"
            ) from None
        except (aerrors.UnsupportedSaslMechanismError, aerrors.IllegalSaslStateError) as exc:
            raise KafkaAccessError(
                f"Kafka at {where} does not accept SASL {settings.sasl_mechanism}: "
                f"{redact(str(exc), settings)} (JUNHENG_KAFKA_SASL_MECHANISM)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - only a certificate problem is decided here
            cert = _certificate_error(exc)
            if cert is not None:
                raise KafkaAccessError(
                    f"the certificate of the Kafka broker at {where} is not trusted ({cert}): set "
                    f"JUNHENG_KAFKA_SSL_CAFILE to the CA that signed it"
                ) from None
            continue  # down or unreachable: try the next server; the clients retry anyway
        else:
            conn.close()
            return


def _certificate_error(exc: BaseException | None) -> str | None:
    """The verification message of an SSL certificate error anywhere in ``exc``'s chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or str(exc)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class TopicAccess:
    """What a Metadata answer says about one topic for this principal."""

    def __init__(self, topic: str, partitions: int | None, operations: frozenset[str] | None) -> None:
        self.topic = topic
        self.partitions = partitions  # None: the topic does not exist
        self.operations = operations  # None: the broker did not say (no authorizer)

    def may(self, operation: str) -> bool:
        return self.operations is None or operation.upper() in self.operations or "ALL" in self.operations


def topic_access(admin: Any, settings: KafkaSettings, topic: str) -> TopicAccess:
    """Describe ``topic`` with a kafka-python admin client: its partitions and what this principal
    may do with it. Raises :class:`KafkaAccessError` when the principal may not even see it."""
    described = admin.describe_topics([topic])
    item = described[0] if described else {"error_code": _UNKNOWN_TOPIC}
    code = item.get("error_code") or 0
    if code == _TOPIC_AUTHORIZATION_FAILED:
        raise KafkaAccessError(
            f"Kafka denies {_who(settings)} access to topic {topic} (TOPIC_AUTHORIZATION_FAILED: no ACL allows it, "
            f"or it does not exist); an administrator grants it (docs/operations.md, Security)"
        )
    if code == _UNKNOWN_TOPIC or not item.get("partitions"):
        return TopicAccess(topic, None, None)
    ops = item.get("authorized_operations")
    return TopicAccess(
        topic,
        len(item["partitions"]),
        frozenset(str(o).upper() for o in ops) if isinstance(ops, (list, set, tuple)) else None,
    )


def _who(settings: KafkaSettings) -> str:
    return f"user {settings.sasl_username!r}" if settings.sasl_username else "this client"
