"""The package as a user installs it (issue #12, item 5): a wheel built from the sources, installed
(not editable) into a fresh venv with the pinned constraints, runs `junheng demo` and `junheng build`
from a folder outside the repository. Every resource the commands need -- the rules catalogue, the
event contract's schemas, the GX suites, the report's templates, the district list and the dbt
project -- is found in site-packages, and the build leaves the installed dbt project as it was.

The one test that installs the whole dependency tree (minutes on a cold pip cache): keep it alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-30"
#: the marts the repository's dbt project defines: the wheel's build must publish each
MARTS = {p.stem for p in (ROOT / "dbt_project" / "models" / "marts").glob("mart_*.sql")}
#: not part of the sources a wheel is built from: at the top (venvs, warehouses, build leftovers),
#: anywhere (caches), in the dbt project (dbt's output) and the Kafka folder (jars, data)
_NOT_SOURCES = {
    ".": {
        ".git",
        ".venv",
        "build",
        "warehouse",
        "test-artifacts",
        "var",
        ".pytest_cache",
        ".hypothesis",
        ".ruff_cache",
        ".mypy_cache",
    },
    "dbt_project": {"target", "logs", "dbt_packages"},
    "infra/kafka": {"dist", "data"},
}


def _ignore(folder: str, names: list[str]) -> set[str]:
    rel = Path(folder).relative_to(ROOT).as_posix()
    return set(_NOT_SOURCES.get(rel, ())) & set(names) | {
        n for n in names if n == "__pycache__" or n.endswith(".egg-info")
    }


pytestmark = [pytest.mark.slow]


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_a_wheel_in_a_fresh_venv_runs_demo_and_build(tmp_path):
    # the environment of a user: no checkout on the path, no JUNHENG_* setting
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUNHENG_", "PYTHON", "VIRTUAL_ENV"))}
    src, dist, venv, outside = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "somewhere"
    shutil.copytree(ROOT, src, ignore=_ignore)  # building writes build/ and *.egg-info: not in the checkout
    outside.mkdir()

    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(src), "-w", str(dist)], outside, env, 600)
    (wheel,) = dist.glob("junheng-*.whl")
    run([sys.executable, "-m", "venv", str(venv)], outside, env, 300)
    python, junheng = venv / "bin" / "python", venv / "bin" / "junheng"
    run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"), str(wheel)],
        outside,
        env,
        1800,
    )

    where = json.loads(
        run(
            [
                str(python),
                "-c",
                (
                    "import json, junheng.settings as s\n"
                    "print(json.dumps({'root': str(s.PROJECT_ROOT), 'warehouse': str(s.settings().warehouse)}))"
                ),
            ],
            outside,
            env,
            120,
        ).stdout
    )
    site = Path(where["root"])
    assert site.name == "site-packages" and site.is_relative_to(venv), where
    assert Path(where["warehouse"]) == outside / "warehouse", "the default warehouse must not be in site-packages"
    assert (site / "dbt_project" / "dbt_project.yml").is_file() and (
        site / "dbt_project" / "seeds" / "_seeds.yml"
    ).is_file()
    installed_project = tree_digest(site / "dbt_project")

    warehouse = outside / "city"
    demo = run(
        [str(junheng), "demo", "--warehouse", str(warehouse), "--schools", "60", "--as-of", AS_OF], outside, env, 1200
    )
    assert "published version 1" in demo.stdout, demo.stdout[-3000:]
    build = run([str(junheng), "build", "--warehouse", str(warehouse), "--as-of", AS_OF, "--json"], outside, env, 900)
    result = json.loads(build.stdout.strip().splitlines()[-1])
    assert result["success"] and result["published"]["version"] == 2
    assert result["project"] == str(warehouse / "work" / "dbt_project")
    assert result["jurisdiction"]["catalogue"] == "qingdao-2021" and result["jurisdiction"]["packaged_districts"]
    assert Path(result["jurisdiction"]["districts"]).is_relative_to(site)

    with duckdb.connect(str(warehouse / "junheng.duckdb"), read_only=True) as con:
        tables = {
            r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'main'").fetchall()
        }
        assert tables == MARTS
        (districts,) = con.execute("select count(distinct district_code) from main.mart_district_attainment").fetchone()
        assert districts == 10
    assert {p.stem for p in (warehouse / "export").glob("*.parquet")} == MARTS
    assert (warehouse / "report" / "index.html").is_file()
    assert tree_digest(site / "dbt_project") == installed_project, "a build changed the installed package"
