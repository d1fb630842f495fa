"""One configuration (issue #10, item 3): every JUNHENG_* variable is read in junheng/settings.py
and nowhere else, each is listed once (VARIABLES) and in the README's table, and options override
variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from junheng.settings import VARIABLES, Settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]
CODE = ("junheng", "streams", "ingestion", "rules", "expectations", "benchmarks", "scripts", "infra")
_READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["'](JUNHENG_[A-Z0-9_]+)""")
_NAME = re.compile(r"\bJUNHENG_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])")  # not a family like JUNHENG_KAFKA_*


def _sources() -> list[Path]:
    files: list[Path] = []
    for folder in CODE:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sh") and p.is_file()]
    return files


def test_no_module_but_settings_reads_a_junheng_variable() -> None:
    readers = {
        (str(p.relative_to(ROOT)), m.group(1))
        for p in _sources()
        if p.name != "settings.py"
        for m in _READ.finditer(p.read_text(encoding="utf-8"))
    }
    assert readers == set()


def test_every_variable_named_in_the_code_is_a_setting() -> None:
    known = {v.name for v in VARIABLES}
    named = {m.group(0) for p in _sources() for m in _NAME.finditer(p.read_text(encoding="utf-8"))}
    # the dbt project reads JUNHENG_WAREHOUSE, which `junheng build` sets for it
    unknown = named - known
    assert unknown == set(), f"named in the code but not a setting of junheng/settings.py: {sorted(unknown)}"


def test_the_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- settings:begin", 1)[1].split("-->", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block.strip() == markdown_table().strip(), "regenerate it with python -m junheng.settings"
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)


def test_options_override_the_environment_and_bad_values_are_named() -> None:
    env = {
        "JUNHENG_WAREHOUSE": "/srv/wh",
        "JUNHENG_CATALOGUE": "national-2017",
        "JUNHENG_ENGINE": "PURE",
        "JUNHENG_ALERT_RETRIES": "5",
    }
    s = Settings.from_env(env)
    assert (s.warehouse, s.catalogue, s.engine, s.alerts.retries) == (Path("/srv/wh"), "national-2017", "pure", 5)
    assert Settings.from_env(env, catalogue="qingdao-2021", warehouse="/tmp/x").catalogue == "qingdao-2021"
    assert Settings.from_env(env, catalogue=None).catalogue == "national-2017"  # an unset option
    assert Settings.from_env({}).catalogue == "qingdao-2021" and Settings.from_env({}).districts is None
    with pytest.raises(ValueError, match="JUNHENG_ENGINE"):
        Settings.from_env({"JUNHENG_ENGINE": "fast"})
    with pytest.raises(ValueError, match="JUNHENG_ALERT_RETRIES"):
        Settings.from_env({"JUNHENG_ALERT_RETRIES": "three"})
    with pytest.raises(TypeError, match="no such setting"):
        Settings.from_env({}, colour="red")


def test_the_password_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNHENG_KAFKA_SASL_PASSWORD", "s3cret-Pa55")
    s = Settings.from_env()
    assert s.kafka.sasl_password == "s3cret-Pa55" and "s3cret" not in repr(s)


def test_build_settings_and_bad_values_are_one_line() -> None:
    import os
    import subprocess
    import sys

    from junheng.settings import BuildSettings

    s = Settings.from_env({"JUNHENG_MAX_STALENESS": "12.5", "JUNHENG_PUBLISHED_KEEP": "5"})
    assert (s.build.max_staleness_s, s.build.keep_published) == (12.5, 5)
    assert Settings.from_env({}).build == BuildSettings(30.0, 3)
    for env, name in (
        ({"JUNHENG_PUBLISHED_KEEP": "0"}, "JUNHENG_PUBLISHED_KEEP"),
        ({"JUNHENG_MAX_STALENESS": "soon"}, "JUNHENG_MAX_STALENESS"),
    ):
        with pytest.raises(ValueError, match=name):
            Settings.from_env(env)
    out = subprocess.run(
        [sys.executable, "-m", "junheng.cli", "serve", "--warehouse", "/nonexistent/wh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "JUNHENG_PUBLISHED_KEEP": "none", "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "JUNHENG_PUBLISHED_KEEP" in out.stderr, out.stderr
