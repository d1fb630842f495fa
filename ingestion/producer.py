"""Put event files on Kafka: one message per line, the line's bytes unchanged, keyed by district.

    python -m ingestion.producer FILES... [--topic NAME] [--create-topics]

Every non-blank line of every file becomes one message on the events topic (default
``KafkaSettings().topic("events")``, i.e. ``<JUNHENG_TOPIC_PREFIX>.events``):

* value: the line exactly as read, without its line terminator (``\\n`` or ``\\r\\n``) -- bad
  lines included: the worker, not the producer, judges them and dead-letters what is bad, so
  nothing is lost on the way and the dead-letter topic holds the original bytes;
* key: the event's ``district_code`` (UTF-8; ``subject.district_code`` in a schema_version 2
  event), so all events of a district land in one partition, in file order, whatever version each
  was written in; ``b"unknown"`` for a line that is not a JSON object with a string district code
  (it can only be dead-lettered anyway).

The producer is idempotent (``enable_idempotence=True``, ``acks="all"``): a retried send is
written once and the order within a partition is kept. Every send's future is checked; failures
are counted and :class:`ProduceError` is raised after all lines were attempted, so a partial
upload is never reported as a success. A line larger than the producer's ``max_request_size``
(1 MiB, the broker's default message limit) cannot be carried by Kafka at all: it is counted as
a failure, not silently skipped.

Connection and security come from :class:`junheng.settings.KafkaSettings` (environment
variables ``JUNHENG_KAFKA_*``); for SASL_SSL/SCRAM set ``JUNHENG_KAFKA_SECURITY_PROTOCOL``,
``JUNHENG_KAFKA_SASL_MECHANISM``, ``JUNHENG_KAFKA_SASL_USERNAME``, ``JUNHENG_KAFKA_SASL_PASSWORD``
and ``JUNHENG_KAFKA_SSL_CAFILE``. No secret lives in the repository. A refused login, an
untrusted certificate or a topic the principal may not write is one line on stderr and exit 2
(:mod:`ingestion.kafka_access`), never a traceback or the password.

:func:`create_topics` creates the project's topics (idempotent).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ingestion.kafka_access import KafkaAccessError, TopicAccess, preflight, redact, topic_access
from ingestion.lines import read_lines
from junheng.errors import UserError
from junheng.settings import KafkaSettings

log = logging.getLogger(__name__)

UNKNOWN_KEY = b"unknown"
#: Kafka refuses a record larger than this (the broker's message.max.bytes default is ~1 MiB).
MAX_REQUEST_SIZE = 1024 * 1024
#: topic (short name) -> partitions, when the caller does not say otherwise. Keyed topics carry
#: the district as key and get the events topic's partition count; alerts are few.
TOPICS: dict[str, int | None] = {
    "events": None,  # --partitions (default 4)
    "dead-letters": None,
    "section-results": None,
    "district-status": None,
    "alerts": 1,
}
DEFAULT_PARTITIONS = 4
#: futures resolved (and checked) at least every this many sends, so memory stays bounded
_CHECK_EVERY = 5000


class ProduceError(RuntimeError):
    """Some sends failed; ``counts`` says how many and ``errors`` shows the first few."""

    def __init__(self, counts: dict[str, Any], errors: list[str]) -> None:
        self.counts = counts
        self.errors = errors
        if counts.get("lines"):
            super().__init__(
                f"{counts['failed']} of {counts['lines']} messages were not written: " + "; ".join(errors[:5])
            )
        else:
            super().__init__("; ".join(errors[:5]) or "nothing was written")


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python connection settings (bootstrap, security) from the environment settings."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.bootstrap_servers.split(",") if s.strip()],
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        if not settings.sasl_mechanism:
            raise ValueError(
                f"security protocol {settings.security_protocol} needs JUNHENG_KAFKA_SASL_MECHANISM "
                "(e.g. SCRAM-SHA-512)"
            )
        config["sasl_mechanism"] = settings.sasl_mechanism
        if settings.sasl_mechanism.startswith(("SCRAM", "PLAIN")):
            if not settings.sasl_username or settings.sasl_password is None:
                raise ValueError(
                    f"SASL {settings.sasl_mechanism} needs JUNHENG_KAFKA_SASL_USERNAME and "
                    "JUNHENG_KAFKA_SASL_PASSWORD in the environment"
                )
            config["sasl_plain_username"] = settings.sasl_username
            config["sasl_plain_password"] = settings.sasl_password
    if settings.security_protocol in ("SSL", "SASL_SSL") and settings.ssl_cafile:
        config["ssl_cafile"] = settings.ssl_cafile
    return config


def make_producer(settings: KafkaSettings, client_id: str = "junheng-producer", **overrides: Any) -> Any:
    """An idempotent kafka-python producer (acks=all), bytes in, no serializers."""
    from kafka import KafkaProducer

    config: dict[str, Any] = {
        **client_config(settings),
        "client_id": client_id,
        "enable_idempotence": True,
        "acks": "all",
        # idempotence keeps order with up to 5 in-flight requests per connection, retries included
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 20,  # a few ms of batching: far fewer requests, no visible delay
        "batch_size": 256 * 1024,  # events are ~0.5-2 KiB; a batch holds a few hundred
        "max_request_size": MAX_REQUEST_SIZE,
        # a mistyped topic must fail, not appear with the broker's default partition count.
        # (kafka-python 3.0.12 does not pass this on to its metadata requests, so _produce also
        # checks that the topic exists with the admin client before sending.)
        "allow_auto_create_topics": False,
        "request_timeout_ms": 30_000,
        "delivery_timeout_ms": 120_000,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def key_for(line: bytes) -> bytes:
    """The message key: the event's district_code, or b"unknown" when the line has none.

    Version 2 events carry it as ``subject.district_code``; keying both versions alike keeps a
    district's events in one partition, in order, while producers move from version 1 to 2.
    """
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return UNKNOWN_KEY
    if not isinstance(obj, dict):
        return UNKNOWN_KEY
    code = obj.get("district_code")
    if code is None and isinstance(obj.get("subject"), dict):
        code = obj["subject"].get("district_code")
    if isinstance(code, str) and code:
        return code.encode("utf-8")
    return UNKNOWN_KEY


def produce_lines(
    lines: Iterable[bytes], settings: KafkaSettings | None = None, topic: str | None = None, producer: Any = None
) -> dict[str, Any]:
    """Send raw lines (already split) to the events topic; same contract as produce_files."""
    return _produce((("<lines>", i, raw) for i, raw in enumerate(lines, start=1)), settings, topic, producer)


def produce_files(
    paths: Sequence[str | Path], settings: KafkaSettings | None = None, topic: str | None = None, producer: Any = None
) -> dict[str, Any]:
    """Send every non-blank line of `paths` to `topic` (default: the events topic).

    Returns the counts: ``lines`` read, ``sent`` (acknowledged by the broker), ``failed``,
    ``unknown_key`` (lines sent with key b"unknown"), ``bytes``, ``by_partition`` and
    ``elapsed_s``. Raises :class:`ProduceError` (carrying the counts) if any send failed.
    """
    return _produce(((line.file, line.number, line.raw) for line in read_lines(paths)), settings, topic, producer)


def _produce(
    items: Iterable[tuple[str, int, bytes]], settings: KafkaSettings | None, topic: str | None, producer: Any
) -> dict[str, Any]:
    settings = settings or KafkaSettings()
    topic = topic or settings.topic("events")
    own = producer is None
    if own:  # before the producer exists: a principal with no Write at all fails its InitProducerId loudly
        access = describe_topic(settings, topic)
        if access.partitions is None:
            raise ProduceError(
                {"topic": topic, "lines": 0, "sent": 0, "failed": 0},
                [f"topic {topic} does not exist; create it first (python -m ingestion.producer --create-topics)"],
            )
        if not access.may("WRITE"):
            raise KafkaAccessError(
                f"Kafka lets user {settings.sasl_username!r} see topic {topic} but not "
                "write it (no WRITE ACL); an administrator grants it (docs/operations.md)"
            )
        producer = make_producer(settings)
    counts: Counter[str] = Counter()
    by_partition: Counter[int] = Counter()
    errors: list[str] = []
    pending: list[tuple[str, int, Any]] = []
    start = time.perf_counter()

    def check(flush: bool) -> None:
        if flush:
            producer.flush()
        for where, number, fut in pending:
            try:
                md = fut.get(timeout=60)
            except Exception as exc:  # KafkaError, timeouts: counted, reported at the end
                counts["failed"] += 1
                if len(errors) < 20:
                    errors.append(f"{where}:{number}: {type(exc).__name__}: {exc}")
            else:
                counts["sent"] += 1
                by_partition[md.partition] += 1
        pending.clear()

    try:
        for where, number, raw in items:
            counts["lines"] += 1
            counts["bytes"] += len(raw)
            key = key_for(raw)
            if key == UNKNOWN_KEY:
                counts["unknown_key"] += 1
            try:
                fut = producer.send(topic, key=key, value=raw)
            except Exception as exc:  # e.g. MessageSizeTooLargeError is raised by send() itself
                counts["failed"] += 1
                if len(errors) < 20:
                    errors.append(f"{where}:{number}: {type(exc).__name__}: {exc}")
                continue
            pending.append((where, number, fut))
            if len(pending) >= _CHECK_EVERY:
                check(flush=True)
        check(flush=True)
    finally:
        if own:
            producer.close(timeout=30)
    result: dict[str, Any] = {
        "topic": topic,
        "lines": counts["lines"],
        "sent": counts["sent"],
        "failed": counts["failed"],
        "unknown_key": counts["unknown_key"],
        "bytes": counts["bytes"],
        "by_partition": dict(sorted(by_partition.items())),
        "elapsed_s": round(time.perf_counter() - start, 3),
    }
    if counts["failed"]:
        raise ProduceError(result, errors)
    return result


# --------------------------------------------------------------------------- topics
def topic_names(settings: KafkaSettings | None = None) -> dict[str, str]:
    """Short name -> full topic name (with the JUNHENG_TOPIC_PREFIX)."""
    settings = settings or KafkaSettings()
    return {short: settings.topic(short) for short in TOPICS}


def create_topics(
    settings: KafkaSettings | None = None,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> dict[str, str]:
    """Create the project's topics if they do not exist; wait until every partition has a
    leader. Returns {topic: "created" | "exists"}. An existing topic is left as it is (a
    different partition count is logged, not changed: repartitioning moves districts)."""
    from kafka import KafkaAdminClient

    settings = settings or KafkaSettings()
    wanted = {settings.topic(short): (n or partitions) for short, n in TOPICS.items()}
    admin = KafkaAdminClient(**client_config(settings), client_id="junheng-admin")
    status = {name: "exists" for name in wanted}
    try:
        missing = [name for name in wanted if name not in set(admin.list_topics())]
        if missing:
            # kafka-python 3: dict form; per-topic errors come back in the response
            response = admin.create_topics(
                {name: {"num_partitions": wanted[name], "replication_factor": replication_factor} for name in missing},
                raise_errors=False,
            )
            for item in response.get("topics", []):
                code = item.get("error_code", 0)
                if code == 0:
                    status[item["name"]] = "created"
                elif code == 29:  # TOPIC_AUTHORIZATION_FAILED: this principal may not create it
                    raise KafkaAccessError(
                        f"Kafka denies user {settings.sasl_username!r} creating topic {item['name']} "
                        "(TOPIC_AUTHORIZATION_FAILED): an administrator creates the topics, and the worker "
                        "runs with --no-create-topics (docs/operations.md)"
                    )
                elif code != 36:  # 36 TOPIC_ALREADY_EXISTS: a concurrent creator won, fine
                    raise RuntimeError(
                        f"creating topic {item['name']} failed: Kafka error {code} {item.get('error_message')}"
                    )
        deadline = time.monotonic() + timeout_s
        while True:
            described = {d["name"]: d for d in admin.describe_topics(list(wanted))}
            not_ready = [
                name
                for name in wanted
                if name not in described
                or described[name].get("error_code")
                or not described[name].get("partitions")
                or any(p.get("leader_id", -1) < 0 for p in described[name]["partitions"])
            ]
            if not not_ready:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics without leaders after {timeout_s}s: {not_ready}")
            time.sleep(0.2)
        for name in wanted:
            have = len(described[name]["partitions"])
            if have != wanted[name]:
                log.warning("topic %s has %d partitions, not %d; left as it is", name, have, wanted[name])
    finally:
        admin.close()
    return status


def topic_partitions(settings: KafkaSettings, topic: str) -> int | None:
    """How many partitions `topic` has, or None if it does not exist. Raises
    :class:`~ingestion.kafka_access.KafkaAccessError` if the principal may not see it (ACLs)."""
    return describe_topic(settings, topic).partitions


def describe_topic(settings: KafkaSettings, topic: str) -> TopicAccess:
    """`topic`'s partitions and what this principal may do with it (a Metadata request that never
    creates the topic)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings), client_id="junheng-admin")
    try:
        return topic_access(admin, settings, topic)
    finally:
        admin.close()


# --------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="junheng produce", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="JSONL event files (one event per line)")
    parser.add_argument("--topic", help="topic to write to (default: <JUNHENG_TOPIC_PREFIX>.events)")
    parser.add_argument("--create-topics", action="store_true", help="create the project's topics first (idempotent)")
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        help="partitions of a topic created by --create-topics (default 4)",
    )
    parser.add_argument("--replication-factor", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.files and not args.create_topics:
        build_parser().error("no FILES given (and no --create-topics)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("kafka", "aiokafka"):  # connection chatter at INFO: an error is then the one line that shows
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = KafkaSettings()
    try:
        preflight(settings)
        if args.create_topics:
            status = create_topics(settings, partitions=args.partitions, replication_factor=args.replication_factor)
            print(json.dumps({"topics": status}))
        if not args.files:
            return 0
        counts = produce_files(args.files, settings, args.topic)
    except ProduceError as exc:
        print(json.dumps(exc.counts), file=sys.stdout)
        print(f"error: {redact(str(exc), settings)}", file=sys.stderr)
        return 1
    except (UserError, ValueError) as exc:  # refused login, certificate, ACL; a bad setting
        print(f"error: {redact(str(exc), settings)}", file=sys.stderr)
        return UserError.exit_code
    except Exception as exc:  # the broker down, a timeout: one line too
        from kafka.errors import KafkaError

        if not isinstance(exc, KafkaError):
            raise
        print(
            f"error: Kafka at {settings.bootstrap_servers}: {type(exc).__name__}: {redact(str(exc), settings)}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
