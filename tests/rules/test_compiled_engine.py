"""The mypyc-compiled engine the drivers load (junheng/compiled_engine.py) must be today's
sources, compiled, and must give exactly what the pure-Python engine gives.

The build is made by scripts/bootstrap.sh (so by `make test` and CI); a missing or stale build
fails here with how to rebuild it, rather than letting the drivers silently run something else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from junheng import compiled_engine

ROOT = Path(__file__).resolve().parents[2]

# replays a small synthetic city per event and in batches; prints every district's serialised
# state and summaries (the state's whole content, so any difference in any figure shows)
REPLAY = r"""
import json, sys
from collections import defaultdict
from junheng.compiled_engine import install, engine_kind
kind = install()
from ingestion.synthetic import generate_city
from rules import load_catalogue
from rules.state import Engine
engine = Engine(load_catalogue())
events = [json.loads(l) for l in generate_city(seed=5, schools=120, bad_fraction=0.0).lines]
out = {"kind": engine_kind(), "install": kind}
for mode in ("single", "batch"):
    states = {}
    if mode == "single":
        for e in events:
            states.setdefault(e["district_code"], engine.new_state(e["district_code"])).apply(e)
    else:
        for i in range(0, len(events), 300):
            groups = defaultdict(list)
            for e in events[i:i + 300]:
                groups[e["district_code"]].append(e)
            for code, group in groups.items():
                states.setdefault(code, engine.new_state(code)).apply_batch(group)
    out[mode] = {code: {"state": s.to_state(),
                        "summaries": {y: repr(s.summary(y)) for y in range(2021, 2026)},
                        "balance": {y: sorted(repr(r) for r in s.balance(y).values()) for y in range(2021, 2026)}}
                 for code, s in sorted(states.items())}
json.dump(out, sys.stdout, default=str, sort_keys=True)
"""


def _replay(engine_mode: str) -> dict[str, Any]:
    env = dict(os.environ, JUNHENG_ENGINE=engine_mode, PYTHONHASHSEED="0")
    done = subprocess.run(
        [sys.executable, "-c", REPLAY], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_compiled_build_is_fresh():
    usable, why = compiled_engine.build_state()
    assert usable, f"{why}: run scripts/compile-rules.sh (scripts/bootstrap.sh does it when rules/ changed)"


def test_compiled_engine_equals_pure_python_on_a_city():
    compiled = _replay("compiled")
    pure = _replay("pure")
    assert compiled["kind"] == "mypyc" and compiled["install"] == "mypyc"
    assert pure["kind"] == "pure Python"
    for mode in ("single", "batch"):
        assert compiled[mode].keys() == pure[mode].keys()
        for code in pure[mode]:
            assert compiled[mode][code] == pure[mode][code], (mode, code)


def _fake_build(tmp_path: Path, digest: str) -> Path:
    """A build directory with the expected file names (never imported: only checked)."""
    import importlib.machinery

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in compiled_engine.COMPILED_MODULES:  # "kinds.balance" is rules/kinds/balance
        so = tmp_path / "rules" / f"{name.replace('.', '/')}{suffix}"
        so.parent.mkdir(parents=True, exist_ok=True)
        so.write_bytes(b"")
    (tmp_path / compiled_engine.DIGEST_FILE).write_text(digest + "\n")
    return tmp_path


def test_a_build_of_other_sources_is_stale(tmp_path):
    build = _fake_build(tmp_path, "0" * 64)
    usable, why = compiled_engine.build_state(build)
    assert not usable and "stale" in why
    build = _fake_build(tmp_path / "fresh", compiled_engine.source_digest())
    assert compiled_engine.build_state(build) == (True, "fresh")


@pytest.mark.parametrize("edited", ["city.py", "kinds/balance.py"])
def test_editing_any_rules_module_changes_the_digest(tmp_path, edited):
    src = tmp_path / "rules"
    for path in (ROOT / "rules").rglob("*.py"):
        copy = src / path.relative_to(ROOT / "rules")
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    before = compiled_engine.source_digest(src)
    assert before == compiled_engine.source_digest()
    (src / edited).write_bytes((src / edited).read_bytes() + b"\n# edited\n")
    assert compiled_engine.source_digest(src) != before


def test_the_rule_kinds_run_compiled():
    """The kinds are on the hot path (every verdict is a call on one): the compiled engine loads
    every module of rules/kinds/ but the package's __init__ from the build, none from source."""
    code = (
        "import sys\nfrom junheng.compiled_engine import install\nprint(install())\nimport rules.state\n"
        "for n in sorted(sys.modules):\n    if n.startswith('rules.kinds.'):\n"
        "        print(n, sys.modules[n].__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, JUNHENG_ENGINE="compiled"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    status, *loaded = done.stdout.strip().splitlines()
    assert status == "mypyc"
    files = dict(line.split(" ", 1) for line in loaded)
    kinds = {f"rules.kinds.{p.stem}" for p in (ROOT / "rules" / "kinds").glob("[!_]*.py")}
    assert set(files) == kinds
    assert all(f.startswith(str(compiled_engine.BUILD_DIR)) and not f.endswith(".py") for f in files.values()), files


@pytest.mark.parametrize(
    "mode, expect",
    [
        ("auto", "pure Python (compiled build is stale"),
        ("compiled", "JUNHENG_ENGINE=compiled but compiled build is stale"),
    ],
)
def test_a_stale_build_is_never_loaded(tmp_path, mode, expect):
    build = _fake_build(tmp_path, "f" * 64)
    code = (
        "import sys, pathlib; from junheng import compiled_engine as c\n"
        "try:\n    print(c.install(pathlib.Path(sys.argv[1])))\nexcept RuntimeError as e:\n    print(e)\n"
        "import rules.state; print(c.engine_kind())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(build)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, JUNHENG_ENGINE=mode),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first, kind = done.stdout.strip().splitlines()
    assert first.startswith(expect)
    assert kind == "pure Python"


def test_install_refuses_to_mix_with_rules_already_imported():
    code = "import rules.state\nfrom junheng import compiled_engine as c\nprint(c.install())"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, JUNHENG_ENGINE="auto"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    usable, _ = compiled_engine.build_state()
    # with a fresh build the only reason to stay pure is the earlier import
    assert out.startswith("pure Python (")
    if usable:
        assert "imported before" in out
