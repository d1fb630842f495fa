"""Fault injection for the tests, kept out of production code.

The production modules have no fault hooks. The tests inject faults by patching them, in-process
(``install_*`` with a pytest ``monkeypatch``) or in a subprocess: ``tests/plugins`` on the
subprocess's ``PYTHONPATH`` makes Python import ``sitecustomize`` from here at start-up, which
installs what the ``JUNHENG_FAULT_*`` variables of its environment ask for (and nothing when none
is set). ``PLUGIN_DIR`` is what to put on the path.

- ``JUNHENG_FAULT_LANDING_AFTER=N``: a landing writer raises ``OSError(ENOSPC)`` part-way through
  its (N+1)-th file (counted per writer, from its creation), after a few bytes of it are on disk,
  as a disk filling up would (tests/faults/test_sink_faults.py).
- ``JUNHENG_FAULT_DELIVER_AFTER_SEEK=1``: the worker's recovery is held after its seek until a
  record was handed to the agent (tests/faults/test_recovery_seek.py).
- ``JUNHENG_FAULT_EMBEDDED_KILL=batch:N`` SIGKILLs an embedded run after it landed its N-th batch;
  ``commit:N`` after N renames of its commit (tests/streams/test_embedded_journal.py).
- ``JUNHENG_FAULT_STALL_AFTER=N``: the worker's batch parts after its N-th never finish: the part
  waits forever before it is applied, so nothing more is acknowledged or committed while the
  event loop, the metrics and the health checks go on -- a stalled worker
  (tests/kafka/test_pipeline_alerts.py).
- ``JUNHENG_FAULT_PUBLISH_KILL=switch`` SIGKILLs a build that publishes right before it makes its
  version current (the version folder complete and renamed into place, ``published/current``
  still naming the previous one); ``seal`` before the version folder is renamed into place
  (tests/faults/test_builder_kills.py).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PLUGIN_DIR = Path(__file__).resolve().parent
LANDING_AFTER = "JUNHENG_FAULT_LANDING_AFTER"
EMBEDDED_KILL = "JUNHENG_FAULT_EMBEDDED_KILL"
DELIVER_AFTER_SEEK = "JUNHENG_FAULT_DELIVER_AFTER_SEEK"
PUBLISH_KILL = "JUNHENG_FAULT_PUBLISH_KILL"
STALL_AFTER = "JUNHENG_FAULT_STALL_AFTER"

Setattr = Callable[[Any, str, Any], None]
log = logging.getLogger("streams.app")  # the worker's log, where the fault tests look


def _plain_setattr(target: Any, name: str, value: Any) -> None:
    setattr(target, name, value)


def install_landing_fault(after: int, setattr_: Setattr = _plain_setattr) -> None:
    """Every LandingWriter fails part-way through its (after+1)-th file, as a full disk would."""
    from junheng.layout import LandingFile
    from streams.landing import LandingWriter

    original = LandingWriter._stage

    def _stage(self: Any, table: str, rows: Any, batch: int) -> tuple[Path, Path]:
        self._files_started = getattr(self, "_files_started", 0) + 1
        if self._files_started > after:
            folder = self.root / table
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / LandingFile(batch, self.writer_id).temporary_name
            tmp.write_bytes(b"PAR1")  # the start of a Parquet file, then the "disk" is full
            try:
                raise OSError(errno.ENOSPC, f"No space left on device (injected: {LANDING_AFTER}={after})", str(tmp))
            finally:
                tmp.unlink(missing_ok=True)
        return original(self, table, rows, batch)

    setattr_(LandingWriter, "_stage", _stage)


def install_embedded_kill(hook: str, setattr_: Setattr = _plain_setattr) -> None:
    """SIGKILL this process after the embedded run landed its N-th batch (``batch:N``) or after N
    renames of its state commit (``commit:N``)."""
    from streams.embedded import EmbeddedRunner

    stage, _, count = hook.partition(":")
    n = int(count)
    if stage == "batch":
        land = EmbeddedRunner.land
        landed = [0]

        def counting_land(self: Any, result: Any, batch: int) -> Any:
            out = land(self, result, batch)
            landed[0] += 1
            if landed[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr_(EmbeddedRunner, "land", counting_land)
    elif stage == "commit":
        replace = Path.replace
        renamed = [0]

        def counting_replace(self: Path, target: Any) -> Any:
            out = replace(self, target)
            if self.name.endswith(".json.tmp"):
                renamed[0] += 1
                if renamed[0] == n:
                    os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr_(Path, "replace", counting_replace)
    else:
        raise ValueError(f"{EMBEDDED_KILL}={hook!r}: expected batch:N or commit:N")


def deliver_before_recovery_ends(consumer: Any, topic: str, timeout_s: float = 20.0) -> None:
    """Test-only fault (``JUNHENG_FAULT_DELIVER_AFTER_SEEK=1``): after each seek that leaves the
    consumer's flow running, return to the caller (Faust's recovery) only once the fetcher has
    handed the agent a record of `topic` -- or after `timeout_s`. That forces the one
    interleaving in which a record reaches the agent between the seek and the end of recovery,
    which Faust's next step (``app.flow_control.resume()``, which empties the agent's queue)
    turns into a lost record. A seek that leaves the flow stopped makes that impossible, and the
    hook then returns at once. Logs which case it met ("injected: ..."). Idempotent."""
    if getattr(consumer, "_junheng_delivers_after_seek", False):
        return
    original = consumer.perform_seek

    async def perform_seek() -> None:
        await original()
        read = consumer._read_offset
        mine = {tp: read.get(tp) for tp in consumer.assignment() if tp.topic == topic}
        fetcher = getattr(consumer.app, "_fetcher", None)
        if fetcher is not None and not fetcher.started:  # a fresh worker's first recovery
            return
        if not consumer.flow_active:
            log.warning(
                "injected: %s: the flow is stopped after the seek; no record can reach the agent before recovery ends",
                DELIVER_AFTER_SEEK,
            )
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            moved = sorted(f"{tp.partition}:{read.get(tp)}" for tp in mine if read.get(tp) != mine[tp])
            if moved:
                log.warning(
                    "injected: %s: records handed to the agent after the seek, before recovery ends (read offsets %s)",
                    DELIVER_AFTER_SEEK,
                    moved,
                )
                return
            await asyncio.sleep(0.005)
        log.warning("injected: %s: no record handed over within %.0f s of the seek", DELIVER_AFTER_SEEK, timeout_s)

    consumer.perform_seek = perform_seek
    consumer._junheng_delivers_after_seek = True


def install_deliver_after_seek(topic_suffix: str = ".events") -> None:
    """The worker's assignment handler applies deliver_before_recovery_ends outermost, right after
    streams.app.hold_flow_while_seeking (found by name when the handler runs)."""
    import streams.app as app

    held = app.hold_flow_while_seeking

    def hold_then_deliver(consumer: Any) -> None:
        held(consumer)
        topic = next((tp.topic for tp in consumer.assignment() if tp.topic.endswith(topic_suffix)), None)
        if topic is not None:
            deliver_before_recovery_ends(consumer, topic)

    app.hold_flow_while_seeking = hold_then_deliver


def install_publish_kill(stage: str, setattr_: Setattr = _plain_setattr) -> None:
    """SIGKILL this process at a step of junheng.build.publish.publish (``seal`` or ``switch``)."""
    import junheng.build.publish as publish

    if stage not in ("seal", "switch"):
        raise ValueError(f"{PUBLISH_KILL}={stage!r}: expected seal or switch")
    original = getattr(publish, f"_{stage}")

    def killed(*args: Any, **kwargs: Any) -> Any:
        if stage == "switch":
            os.kill(os.getpid(), signal.SIGKILL)
        out = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # seal: the folder written, not renamed
        return out

    setattr_(publish, f"_{stage}", killed)


def install_stall(after: int, setattr_: Setattr = _plain_setattr) -> None:
    """The worker's batch parts after the first `after` wait forever (a stalled worker)."""
    from streams.worker_runtime import StreamRuntime

    original = StreamRuntime._finish_part
    done = [0]

    async def stalled(self: Any, part: Any) -> None:
        if done[0] >= after:
            log.warning("injected: %s=%d: the batch stalls here", STALL_AFTER, after)
            await asyncio.Event().wait()  # never set: no ack, no commit; the loop turns
        done[0] += 1
        await original(self, part)

    setattr_(StreamRuntime, "_finish_part", stalled)


def install_from_env() -> None:
    """What the environment asks for (sitecustomize calls this in a subprocess)."""
    after = os.environ.get(LANDING_AFTER, "").strip()
    if after:
        install_landing_fault(int(after))
    kill = os.environ.get(EMBEDDED_KILL, "").strip()
    if kill:
        install_embedded_kill(kill)
    if os.environ.get(DELIVER_AFTER_SEEK, "").strip() == "1":
        install_deliver_after_seek()
    publish_kill = os.environ.get(PUBLISH_KILL, "").strip()
    if publish_kill:
        install_publish_kill(publish_kill)
    stall = os.environ.get(STALL_AFTER, "").strip()
    if stall:
        install_stall(int(stall))


def subprocess_env(base: dict[str, str] | None = None, **faults: str) -> dict[str, str]:
    """An environment for a subprocess with the plugin on its path and these faults set."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGIN_DIR), env.get("PYTHONPATH", "")) if p)
    env.update(faults)
    return env
