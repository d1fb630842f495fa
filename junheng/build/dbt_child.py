"""The long-lived dbt process of a :class:`~junheng.build.dbt_session.DbtSession` (run as a script).

Each line on stdin is one dbt command, ``{"args": [...], "env": {...}, "cwd": "..."}``: the
process takes that environment and folder, as a fresh ``dbt`` process would, runs it with
``dbtRunner`` (dbt's documented programmatic entry point) and prints dbt's own output, then one
line starting with :data:`DONE` holding the exit code dbt's command line would have returned
(0 success, 1 a node failed, 2 dbt could not run). It ends when stdin closes.

Why a process that stays: a fresh ``dbt build`` pays ~1 s of imports and ~1.5 s of adapter and
project set-up before its first model, for an incremental city build whose models take ~1.7 s.
Kept warm, dbt pays them once per session. It is still a separate process: never in the event
loop of a worker, and the builder can kill it (cancel, recycle) without losing its own state.

It imports only the standard library and dbt: nothing of the project, whose code it must not
hold stale across builds.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import traceback

#: starts the line that ends a command's output (a record separator no dbt output begins with)
DONE = "\x1ejunheng-dbt-done "


def _exit_code(result: object) -> int:
    """The code ``dbt`` would exit with for this ``dbtRunnerResult``."""
    if getattr(result, "success", False):
        return 0
    return 2 if getattr(result, "exception", None) is not None else 1


def _release_databases() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after a command. A fresh dbt process
    releases it by exiting; this one must, or it would hold the working database's write lock
    while the build's later stages (alerts, checkpoint, publish) open it. dbt-duckdb keeps its
    environment in a class attribute and its ``close_all_connections`` only drops it, so the
    environment is closed here as well."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:   # another adapter: nothing kept here
        return
    environment = getattr(DuckDBConnectionManager, "_ENV", None)
    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]
    if environment is not None:
        try:
            environment.close()
        except Exception:   # already closed
            pass
    gc.collect()   # cursors a failed command left behind hold the database too


def serve() -> int:
    from dbt.cli.main import dbtRunner   # what the session saves: imported once

    for raw in sys.stdin:
        if not raw.strip():
            continue
        code = 2
        try:
            request = json.loads(raw)
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in request["env"].items()})
            os.chdir(request["cwd"])
            result = dbtRunner().invoke([str(a) for a in request["args"]])
            code = _exit_code(result)
            exception = getattr(result, "exception", None)
            if exception is not None:   # dbt's CLI would have printed it
                print(f"{type(exception).__name__}: {exception}")
        except Exception:   # a bad request or dbt failing outside its own handling: said, not fatal
            traceback.print_exc(file=sys.stdout)
        _release_databases()
        sys.stdout.write(f"\n{DONE}{json.dumps({'rc': code})}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
