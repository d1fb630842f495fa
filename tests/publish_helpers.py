"""Helpers for the tests of published marts (tests/junheng/build, tests/kafka, tests/faults): a correction
to land, what the published marts say about it, `junheng serve` as a subprocess, and a Python with
DuckDB 1.x to read the published file as a BI driver would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "plugins"


# ------------------------------------------------------------------ a correction and its effect


def enrolment_correction(
    lines: Iterable[bytes | str], extra_students: int = 40, skip: int = 0
) -> tuple[bytes, tuple[str, int, str, int]]:
    """A correction of the latest enrolment of a school-year among `lines` (the `skip`-th one with a
    primary section): the same fact with a higher seq and one more class of `extra_students`.
    Returns the event's line and (school_id, year, section, students after the correction)."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("event_type") != "school.enrolment":
            continue
        sections = (event.get("payload") or {}).get("sections") or {}
        if not isinstance(sections.get("primary"), dict) or not isinstance(event.get("seq"), int):
            continue
        key = (event["school_id"], event["year"])
        if key not in latest or event["seq"] > latest[key]["seq"]:
            latest[key] = event
    event = latest[sorted(latest)[skip]]
    primary = dict(event["payload"]["sections"]["primary"])
    primary["students"] += extra_students
    primary["classes"] += 1
    primary["class_sizes"] = list(primary["class_sizes"]) + [extra_students]
    sections = dict(event["payload"]["sections"], primary=primary)
    corrected = dict(
        event, event_id=str(uuid.uuid4()), seq=event["seq"] + 1_000, payload=dict(event["payload"], sections=sections)
    )
    line = json.dumps(corrected, ensure_ascii=False).encode()
    return line, (event["school_id"], event["year"], "primary", primary["students"])


def veto_correction(lines: Iterable[bytes | str], item: str = "falsified_data") -> tuple[bytes, tuple[str, int]]:
    """A veto raised by correction: the latest `item` inspection of the first district in its latest
    year (the year alerts judge), now ``fail``. Returns the line and (district_code, year)."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if (
            not isinstance(event, dict)
            or event.get("event_type") != "district.inspection"
            or (event.get("payload") or {}).get("item") != item
            or not isinstance(event.get("seq"), int)
        ):
            continue
        key = (event["district_code"], event["year"])
        if key not in latest or event["seq"] > latest[key]["seq"]:
            latest[key] = event
    district = min(d for d, _ in latest)
    year = max(y for d, y in latest if d == district)
    event = latest[(district, year)]
    assert event["payload"]["result"] == "pass", event
    corrected = dict(
        event,
        event_id=str(uuid.uuid4()),
        seq=event["seq"] + 1_000,
        payload=dict(event["payload"], result="fail", note="correction: veto raised"),
    )
    return json.dumps(corrected, ensure_ascii=False).encode(), (district, year)


def students_sql(school_id: str, year: int, section: str = "primary") -> str:
    """The query of mart_school_section_status.students of one section (literals: any client runs it)."""
    assert school_id.isdigit() and section.isalpha()
    return (
        f"select students from mart_school_section_status where school_id = '{school_id}' "
        f"and year = {int(year)} and section = '{section}'"
    )


def students(con: Any, school_id: str, year: int, section: str = "primary") -> int | None:
    """mart_school_section_status.students of one section, as DuckDB connection `con` sees it."""
    row = con.execute(students_sql(school_id, year, section)).fetchone()
    return None if row is None else int(row[0])


def published_value(warehouse: Path, sql: str) -> object:
    """The first column of the first row `sql` returns from the published marts
    (``<warehouse>/junheng.duckdb``, read-only, as a reader that reconnects sees them); None: no row."""
    import duckdb

    con = duckdb.connect(str(warehouse / "junheng.duckdb"), read_only=True)
    try:
        row = con.execute(sql).fetchone()
        return None if row is None else row[0]
    finally:
        con.close()


def land_enrolment_correction(warehouse: Path, skip: int) -> tuple[str, int, str, int]:
    """:func:`enrolment_correction` of the warehouse's own ``events.jsonl`` (the `skip`-th school-year),
    landed by the embedded driver; returns (school_id, year, section, students after it)."""
    from streams.embedded import EmbeddedRunner

    line, key = enrolment_correction((warehouse / "events.jsonl").read_bytes().splitlines(), skip=skip)
    path = warehouse / f"correction-{skip}.jsonl"
    path.write_bytes(line + b"\n")
    assert EmbeddedRunner(warehouse).run([path]).counts["applied"] == 1
    return key


def compare_marts() -> Any:
    """tests/dbt/compare_marts.py as a module: ``compare_marts().compare(a, b)`` lists how the marts
    of two warehouses (or DuckDB files) differ, [] when equal."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "junheng_tests_compare_marts", ROOT / "tests" / "dbt" / "compare_marts.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def current_version(warehouse: Path) -> int | None:
    """The published version `<warehouse>/published/current` names (None before the first)."""
    try:
        return int(os.readlink(warehouse / "published" / "current").lstrip("v"))
    except (OSError, ValueError):
        return None


def marts_of(database: Path) -> dict[str, int]:
    """Every relation of a DuckDB file (any schema) with its row count."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        names = [
            (s, t)
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() union all "
                "select schema_name, view_name from duckdb_views() where not internal order by 1, 2"
            ).fetchall()
        ]
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in names}
    finally:
        con.close()


# ------------------------------------------------------------------ a reader in its own process

_READER = r"""
import json, sys
kind, path = sys.argv[1], sys.argv[2]

def connect():
    if kind == "duckdb":
        import duckdb
        con = duckdb.connect(path, read_only=True)
        return (lambda sql: [list(r) for r in con.execute(sql).fetchall()]), con.close
    from sqlalchemy import create_engine, text
    engine = create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
    c = engine.connect()
    def close():
        c.close()
        engine.dispose()
    return (lambda sql: [list(r) for r in c.execute(text(sql)).fetchall()]), close

query, close = connect()
print(json.dumps({"ok": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd["op"] == "reconnect":
            close()
            query, close = connect()
            out = {"ok": True}
        elif cmd["op"] == "query":
            out = {"ok": True, "rows": query(cmd["sql"])}
        else:
            close()
            break
    except Exception as exc:
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out, default=str), flush=True)
"""


class ReaderProcess:
    """A BI tool's connection, in its own process as a dashboard's is: ``kind`` "duckdb" (a
    read-only DuckDB connection) or "sqlalchemy" (duckdb-engine, as Superset connects), held open
    on `database` until :meth:`reconnect`."""

    def __init__(self, kind: str, database: Path) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _READER, kind, str(database)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONWARNINGS="ignore"),
        )
        self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            assert self.proc.stderr is not None
            pytest.fail(f"the {self.kind} reader exited: {self.proc.stderr.read()[-2000:]}", pytrace=False)
        out = json.loads(line)
        assert out["ok"], f"the {self.kind} reader: {out.get('error')}"
        return out

    def _send(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def query(self, sql: str) -> list[list[Any]]:
        return self._send(op="query", sql=sql)["rows"]

    def scalar(self, sql: str) -> Any:
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def reconnect(self) -> None:
        self._send(op="reconnect")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------ DuckDB 1.x


def duckdb_reader(version: str = "1.0.0") -> Path:
    """A Python with duckdb==`version` (scripts/duckdb-reader.sh makes it once, in the user's cache)."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "duckdb-reader.sh"), version], capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        pytest.fail(
            f"could not install duckdb=={version} for the reader check (scripts/duckdb-reader.sh): "
            f"{out.stderr[-2000:]}",
            pytrace=False,
        )
    return Path(out.stdout.strip().splitlines()[-1])


_READ_AS_OLD = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
tables = con.execute("select schema_name, table_name from duckdb_tables() order by 1, 2").fetchall()
print(json.dumps({"version": duckdb.__version__,
                  "tables": {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                             for s, t in tables}}))
"""


def read_with_old_duckdb(python: Path, database: Path) -> dict[str, Any]:
    out = subprocess.run([str(python), "-c", _READ_AS_OLD, str(database)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


# ------------------------------------------------------------------ processes


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def child_holding(pid: int, path: Path) -> int | None:
    """A process below `pid` that has `path` open (dbt writing the working database), or None."""
    return next((p for p in descendants(pid) if has_open(p, path)), None)


def alive(pid: int) -> bool:
    """Running (a zombie is dead: it holds no file and no lock)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(poll)


# ------------------------------------------------------------------ junheng serve


class ServeProcess:
    """`python -m junheng.cli serve` as a subprocess, its log in a file, its status in serve.json."""

    def __init__(
        self,
        warehouse: Path,
        log_path: Path,
        *,
        as_of: str | None = None,
        debounce: float = 1.0,
        max_staleness: float = 30.0,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.status_file = warehouse / "serve.json"
        self.log_path = log_path
        environ = dict(os.environ if env is None else env, PYTHONWARNINGS="ignore::DeprecationWarning")
        environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGINS), str(ROOT), environ.get("PYTHONPATH", "")) if p
        )
        for name in ("JUNHENG_ALERTMANAGER_URL", "JUNHENG_ALERT_WEBHOOK_URL"):
            environ.pop(name, None)
        cmd = [
            sys.executable,
            "-m",
            "junheng.cli",
            "serve",
            "--warehouse",
            str(warehouse),
            "--debounce",
            str(debounce),
            "--max-staleness",
            str(max_staleness),
            "--poll",
            "0.2",
            "--no-data-docs",
            *extra_args,
        ]
        if as_of:
            cmd += ["--as-of", as_of]
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=self._log, stderr=subprocess.STDOUT)

    def status(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return doc if doc.get("pid") == self.proc.pid else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self._log.closed:
            self._log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status()
            if last is not None and predicate(last):
                return last
            if not self.alive():
                pytest.fail(
                    f"junheng serve exited with {self.proc.returncode} while waiting for {what}; status {last}\n"
                    f"{self.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.2)
        pytest.fail(f"timeout ({timeout:.0f} s) waiting for {what}; status {last}\n{self.log_tail()}", pytrace=False)

    def wait_published(self, version: int, timeout: float = 300) -> dict[str, Any]:
        """Until version `version` (or a later one) is published, failing at once on a failed build."""

        def done(s: dict[str, Any]) -> bool:
            assert s["builds"]["failed"] == 0, f"a build failed: {s['last_build']}\n{self.log_tail()}"
            return (s.get("published") or {}).get("version", 0) >= version

        return self.wait_for(done, timeout, f"version {version} to be published")

    def stop(self, timeout: float = 60) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)

    def kill(self) -> int:
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.alive():
            self.stop()
        elif not self._log.closed:
            self._log.close()
