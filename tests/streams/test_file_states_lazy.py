"""The embedded driver reads district states lazily (streams/file_states.py): a one-district
correction reads and rewrites one state file, memory stays within ``max_loaded`` clean states,
the school owners come from state/school-owners.index (streams/owners_index.py), and every run
-- a rolled-back one included -- lands and saves exactly what the eager driver did (every state
read when the warehouse opened, every state written at commit)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks.corrections import corrections, load_events, write_jsonl
from ingestion.synthetic import generate_city
from junheng.layout import WarehouseLayout
from streams.embedded import EmbeddedRunner
from streams.file_states import FileStates
from streams.landing import LandingWriter

BATCH = 200
DISTRICTS = 24


class EagerStates(FileStates):
    """The driver before lazy loading: every state read at open, every state written at commit,
    the school owners built from the states. Its ``max_loaded`` only cuts batches into runs of
    that many districts, as the lazy store's does (streams/district_runs.py): nothing is dropped."""

    def trim(self) -> int:
        return 0

    def load(self) -> None:
        super().load()
        for code in sorted(self._on_disk):
            self._fetch(code)

    def stage(self):  # type: ignore[no-untyped-def]
        self.dirty = set(self._states)
        return super().stage()

    def school_owners(self) -> dict[str, str]:
        owners: dict[str, str] = {}
        for code, state in self._states.items():
            for school_id in state.schools:
                owners.setdefault(school_id, code)
        return owners


class WatchedStates(FileStates):
    """FileStates that records how many states it holds after each trim (after each landed batch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loaded_after_trim: list[int] = []

    def trim(self) -> int:
        out = super().trim()
        self.loaded_after_trim.append(self.loaded())
        return out


def _runner(warehouse: Path, eager: bool = False, max_loaded: int | None = 3) -> EmbeddedRunner:
    runner = EmbeddedRunner(warehouse, batch_size=BATCH, max_loaded=max_loaded)
    store = (EagerStates if eager else WatchedStates)(runner.engine, warehouse, max_loaded)
    runner.store = runner.pipeline.states = runner.pipeline.processor.states = store
    return runner


SEED = 11


@pytest.fixture(scope="module", autouse=True)
def national_districts(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Qingdao's ten districts and 14 synthetic ones (codes 9xxxxx), as a national list would."""
    from benchmarks.scale import write_districts_csv

    path = tmp_path_factory.mktemp("districts") / "districts.csv"
    write_districts_csv(path, DISTRICTS, SEED)
    with pytest.MonkeyPatch.context() as m:
        m.setenv("JUNHENG_DISTRICTS", str(path))
        yield path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A city of 24 districts cut in two files, and a correction of one district's last year."""
    city = generate_city(
        seed=SEED,
        schools=96,
        years=range(2023, 2025),
        districts=DISTRICTS,
        bad_fraction=0.02,
        duplicate_fraction=0.02,
        stale_fraction=0.02,
    )
    folder = tmp_path_factory.mktemp("lazy-stream")
    cut = len(city.lines) // 2
    out = {"head": folder / "head.jsonl", "tail": folder / "tail.jsonl", "fix": folder / "fix.jsonl"}
    out["head"].write_bytes(b"".join(line + b"\n" for line in city.lines[:cut]))
    out["tail"].write_bytes(b"".join(line + b"\n" for line in city.lines[cut:]))
    fix = corrections(
        load_events(out["head"]) + load_events(out["tail"]), districts=1, per_district=2, year=2024, seed=1
    )
    code = fix[0]["district_code"]
    assert fix and {e["district_code"] for e in fix} == {code}
    write_jsonl(out["fix"], fix)
    out["code"] = Path(code)
    return out


def _landing(warehouse: Path) -> dict[str, list[Any]]:
    """Every landing table's rows (without the landing time), in landing order."""
    con = duckdb.connect()
    out = {}
    for table in ("events", "section_results", "district_status", "dead_letters"):
        folder = warehouse / "landing" / table
        if not list(folder.glob("*.parquet")):
            out[table] = []
            continue
        rel = con.execute(
            f"select * exclude (landed_at) from read_parquet('{folder}/*.parquet') order by landed_batch, landed_pos"
        )
        out[table] = rel.fetchall()
    return out


def _state_files(warehouse: Path) -> dict[str, Any]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((warehouse / "state").glob("*.json"))}


def _fail_landing_after(monkeypatch: pytest.MonkeyPatch, files_ok: int) -> None:
    """Every LandingWriter fails on its (files_ok+1)-th file, as a full disk would."""
    original = LandingWriter._stage

    def _stage(self: Any, table: str, rows: Any, batch: int) -> Any:
        self._test_started = getattr(self, "_test_started", 0) + 1
        if self._test_started > files_ok:
            raise OSError(28, "No space left on device (test)")
        return original(self, table, rows, batch)

    monkeypatch.setattr(LandingWriter, "_stage", _stage)


def _sequence(
    warehouse: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, eager: bool, max_loaded: int = 3
) -> tuple[list[Any], list[EmbeddedRunner]]:
    """head; tail failing on its 7th landing file (rolled back); tail; the correction. The
    summaries, and the runners."""
    runners = [_runner(warehouse, eager, max_loaded) for _ in range(4)]
    sums = [runners[0].run([files["head"]]).as_dict()]
    with monkeypatch.context() as m:
        _fail_landing_after(m, 6)
        with pytest.raises(OSError, match="No space left"):
            runners[1].run([files["tail"]])
    # rolled back in-process: the states it had spilled are gone, the committed files are head's
    assert not list(WarehouseLayout(warehouse).state.glob("*.json.tmp"))
    sums.append(runners[2].run([files["tail"]]).as_dict())
    sums.append(runners[3].run([files["fix"]]).as_dict())
    return [{k: v for k, v in s.items() if k not in ("elapsed_s", "landing")} for s in sums], runners


@pytest.mark.parametrize("max_loaded", [3, 2, 1])
def test_lazy_runs_land_and_save_exactly_what_the_eager_driver_did(files, tmp_path, monkeypatch, max_loaded):
    """Bounded runs -- clean states dropped and changed ones spilled to their staged files and
    read back from there, at most `max_loaded` in memory after every batch -- land and save
    exactly what the unbounded eager driver did."""
    lazy, eager = tmp_path / "lazy", tmp_path / "eager"
    got, runners = _sequence(lazy, files, monkeypatch, eager=False, max_loaded=max_loaded)
    want, _ = _sequence(eager, files, monkeypatch, eager=True, max_loaded=max_loaded)
    assert got == want
    stores = [r.store for r in runners if isinstance(r.store, WatchedStates)]
    assert len(stores) == 4 and all(s.loaded_after_trim for s in stores)
    assert max(n for s in stores for n in s.loaded_after_trim) <= max_loaded  # clean and changed together
    # states were dropped and read again, changed ones spilled, within the runs
    assert sum(s.spills for s in stores) > DISTRICTS and sum(s.evictions for s in stores) > 0
    assert not list(WarehouseLayout(lazy).state.glob("*.json.tmp"))  # all renamed at the commits
    assert all(s["balanced"] for s in got) and got[-1]["applied"] > 0
    assert _landing(lazy) == _landing(eager)
    assert _state_files(lazy) == _state_files(eager)
    assert len(_state_files(lazy)) >= DISTRICTS
    owners = json.loads(WarehouseLayout(lazy).school_owners_index.read_text(encoding="utf-8"))
    assert {c: sorted(v["schools"]) for c, v in owners["districts"].items()} == {
        c: sorted(s["schools"]) for c, s in _state_files(lazy).items()
    }


def test_a_one_district_correction_reads_and_rewrites_only_that_district(files, tmp_path):
    warehouse = tmp_path / "wh"
    for name in ("head", "tail"):
        assert _runner(warehouse).run([files[name]]).balanced()
    code = str(files["code"])
    layout = WarehouseLayout(warehouse)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in layout.state.glob("*.json")}
    runner = _runner(warehouse)
    read: list[str] = []
    original = runner.store._read
    runner.store._read = lambda path: (read.append(path.stem), original(path))[1]  # type: ignore[method-assign]
    summary = runner.run([files["fix"]])
    assert summary.balanced() and summary.counts["applied"] > 0
    assert read == [code] and runner.store.reads == 1 and runner.store.owners_index.files_read == 0
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in layout.state.glob("*.json")}
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {f"{code}.json"}


def test_loaded_states_stay_within_the_bound(files, tmp_path):
    warehouse = tmp_path / "wh"
    runner = _runner(warehouse, max_loaded=2)
    runner.run([files["head"]])
    assert runner.store.loaded() <= 2
    again = runner.run([files["head"]])  # every district read again: all duplicates, nothing dirty
    assert again.counts["applied"] == 0 and again.balanced()
    assert runner.store.reads >= DISTRICTS and runner.store.evictions > 0
    assert runner.store.loaded() <= 2
    states = list(runner.iter_states())
    assert len(states) >= DISTRICTS and runner.store.loaded() <= 2


def test_an_old_warehouse_without_the_owners_index_gets_one(files, tmp_path):
    """A warehouse written before the index (or with a stale one) has the index rebuilt from its
    state files, and a school registered in another district is still dead-lettered."""
    warehouse = tmp_path / "wh"
    _runner(warehouse).run([files["head"]])
    layout = WarehouseLayout(warehouse)
    index = layout.school_owners_index
    want = json.loads(index.read_text(encoding="utf-8"))["districts"]
    index.unlink()
    runner = _runner(warehouse).open()
    assert runner.store.owners_index.files_read == len(want)
    owners = dict(runner.school_owners)
    assert owners and all(owners[s] == code for code, v in want.items() for s in v["schools"])
    # a registration of a known school in another district
    school, home = next(iter(owners.items()))
    other = next(c for c in want if c != home)
    registered = next(
        e for e in load_events(files["head"]) if e["event_type"] == "school.registered" and e.get("school_id") == school
    )
    steal = {**registered, "district_code": other, "event_id": str(uuid.uuid4())}
    path = write_jsonl(tmp_path / "steal.jsonl", [steal])
    summary = _runner(warehouse).run([path])
    assert summary.counts["dead_lettered"] == 1 and summary.dead_letter_reasons == {"school_in_other_district": 1}
    assert index.is_file()
    os.utime(layout.state_file(home), ns=(1, 1))  # a state file changed behind the index's back
    assert _runner(warehouse).open().store.owners_index.files_read == 1


def test_the_attainment_table_read_one_state_at_a_time_equals_the_one_from_every_state(files, tmp_path):
    """`junheng run`'s table (rules.summary.report_rows over FileStates.iter_states) is the one
    built from every state in memory, and reading it keeps no more states than the bound."""
    import datetime as dt

    from rules.summary import city_rows, district_rows, report_rows, years_of

    warehouse = tmp_path / "wh"
    runner = _runner(warehouse, max_loaded=2)
    runner.run([files["head"]])
    as_of = dt.date(2025, 6, 30)
    names = {c: d.name_zh for c, d in runner.districts.items()}
    years, rows, city = report_rows(runner.iter_states, runner.engine.catalogue, names, as_of)
    assert runner.store.loaded() <= 2
    states = _runner(warehouse).open().states
    assert years == years_of(states) and years
    assert rows == district_rows(states, names, years, as_of)
    assert city == city_rows(states, years)


def test_a_spilled_district_touched_again_in_the_run_gets_its_spilled_state(files, tmp_path):
    """One run of the tail and the correction on top of the committed head, holding one state at
    a time: the corrected district's state is spilled during the tail and read back from its
    staged file (not the committed head file) when the correction comes, so the correction lands
    on the run's earlier events -- the same landing and states as an unbounded run."""
    code = str(files["code"])
    both = tmp_path / "tail-and-fix.jsonl"
    both.write_bytes(files["tail"].read_bytes() + files["fix"].read_bytes())
    out: dict[str, Any] = {}
    for name, eager in (("bounded", False), ("unbounded", True)):  # cut alike: runs of one district
        warehouse = tmp_path / name
        assert _runner(warehouse, eager, max_loaded=1).run([files["head"]]).balanced()
        head_file = WarehouseLayout(warehouse).state_file(code).read_bytes()
        runner = _runner(warehouse, eager, max_loaded=1)
        read: list[str] = []
        original = runner.store._read
        runner.store._read = lambda path, read=read, original=original: (  # type: ignore[method-assign,misc]
            read.append(path.name),
            original(path),
        )[1]
        summary = runner.run([both])
        assert summary.balanced() and summary.counts["applied"] > 0
        out[name] = (summary.as_dict() | {"elapsed_s": 0, "landing": ""}, _landing(warehouse), _state_files(warehouse))
        assert WarehouseLayout(warehouse).state_file(code).read_bytes() != head_file
        if not eager:
            assert f"{code}.json.tmp" in read and runner.store.spills > DISTRICTS
            assert read.index(f"{code}.json") < read.index(f"{code}.json.tmp")  # committed once, then spilled
    assert out["bounded"] == out["unbounded"]


def test_a_spill_point_lands_the_same_district_status_rows_as_an_unbounded_run(tmp_path):
    """Many schools per district, so districts are registered batches before their schools. A
    state spilled in between and read back from JSON (``DistrictState.from_state``) must leave the
    year it had not judged unjudged (the state file records the judged years), or it would not
    land that year's first status when its next event comes."""
    lines = generate_city(seed=SEED, schools=960, years=range(2023, 2024), districts=DISTRICTS).lines
    path = tmp_path / "city.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    got = {}
    for name, eager in (("bounded", False), ("unbounded", True)):  # cut alike: runs of one district
        runner = _runner(tmp_path / name, eager, max_loaded=1)
        assert runner.run([path]).balanced()
        assert runner.store.spills > DISTRICTS or eager
        got[name] = (_landing(tmp_path / name), _state_files(tmp_path / name))
    assert got["bounded"][1] == got["unbounded"][1]
    assert got["bounded"][0]["events"] == got["unbounded"][0]["events"]
    assert got["bounded"][0]["district_status"] == got["unbounded"][0]["district_status"]


def test_a_stream_cut_into_two_runs_lands_the_same_district_status_rows_as_one_run(tmp_path):
    """Many schools per district, so districts are registered batches before their schools, and
    the stream is cut in between. The second run reads the states back from their files
    (``DistrictState.from_state``), which must leave a year the first run had not judged unjudged:
    judging it on reading would swallow the district's first status of the year."""
    lines = generate_city(seed=SEED, schools=960, years=range(2023, 2024), districts=DISTRICTS).lines
    whole, head, tail = tmp_path / "whole.jsonl", tmp_path / "head.jsonl", tmp_path / "tail.jsonl"
    whole.write_bytes(b"".join(line + b"\n" for line in lines))
    head.write_bytes(b"".join(line + b"\n" for line in lines[:400]))
    tail.write_bytes(b"".join(line + b"\n" for line in lines[400:]))
    assert _runner(tmp_path / "one", max_loaded=None).run([whole]).balanced()
    for part in (head, tail):
        assert _runner(tmp_path / "two", max_loaded=None).run([part]).balanced()

    def status_rows(warehouse: Path) -> list[Any]:
        con = duckdb.connect()
        return con.execute(
            f"select * exclude (landed_at, landed_batch, landed_pos) "
            f"from read_parquet('{warehouse}/landing/district_status/*.parquet') order by all"
        ).fetchall()

    one, two = status_rows(tmp_path / "one"), status_rows(tmp_path / "two")
    assert len(one) > DISTRICTS
    assert two == one
    assert _state_files(tmp_path / "two") == _state_files(tmp_path / "one")


def _latest(warehouse: Path) -> dict[str, list[Any]]:
    """What the marts read of the landing (dbt's staging): every event and dead letter, and the
    latest section results per school-year, status and gaps per district-year, outlook per
    district; without the landing's batch numbers, which a cut batch changes."""
    con = duckdb.connect()
    root = warehouse / "landing"

    def rows(sql: str) -> list[Any]:
        return con.execute(sql).fetchall()

    drop = "exclude (landed_at, landed_batch, landed_pos, landed_file)"
    latest = "row_number() over (partition by {} order by landed_batch desc, landed_pos desc) = 1"
    return {
        "events": rows(
            f"select * {drop} from read_parquet('{root}/events/*.parquet', filename=landed_file) order by all"
        ),
        "dead_letters": rows(
            f"select * {drop} from read_parquet('{root}/dead_letters/*.parquet', filename=landed_file) order by all"
        ),
        "section_results": rows(
            f"select * {drop} from read_parquet('{root}/section_results/*.parquet', filename=landed_file) "
            "qualify landed_batch = max(landed_batch) over (partition by school_id, year) order by all"
        ),
        **{
            table: rows(
                f"select * {drop} from read_parquet('{root}/{table}/*.parquet', filename=landed_file) "
                f"qualify {latest.format(key)} order by all"
            )
            for table, key in (
                ("district_status", "district_code, year"),
                ("district_gaps", "district_code, year"),
                ("district_outlook", "district_code"),
            )
        },
    }


def test_a_batch_naming_more_districts_than_the_bound_is_run_in_cuts_that_keep_memory_bounded(files, tmp_path):
    """Batches of 200 events name most of the 24 districts. Bounded to two states, the driver
    processes each batch in runs of at most two districts (streams/district_runs.py): never more
    than about twice the bound in memory at once, where the uncut batch held every district it
    named. Each run is landed as a batch of its own, so a district cut across runs may land an
    intermediate status row more; what the marts read is the same, and so are the states."""
    got: dict[str, Any] = {}
    for name, max_loaded in (("cut", 2), ("whole", None)):
        warehouse = tmp_path / name
        runner = _runner(warehouse, max_loaded=max_loaded)
        sums = [runner.run([files[part]]) for part in ("head", "tail", "fix")]
        assert all(s.balanced() for s in sums)
        got[name] = {
            "counts": [{k: v for k, v in s.counts.as_dict().items() if k != "batches"} for s in sums],
            "batches": sum(s.counts.batches for s in sums),
            "peak": runner.store.peak_loaded,
            "landing": _latest(warehouse),
            "states": _state_files(warehouse),
        }
    cut, whole = got["cut"], got["whole"]
    assert whole["peak"] >= DISTRICTS - 2 and cut["peak"] <= 2 * 2
    assert cut["batches"] > 2 * whole["batches"]
    assert cut["counts"] == whole["counts"] and cut["counts"][0]["applied"] > 0
    assert cut["states"] == whole["states"]
    for table, rows in whole["landing"].items():
        assert rows, table
        assert cut["landing"][table] == rows, table
