"""The Docker Compose set-up cannot run here (no Docker engine), so it is kept consistent with the
local one by reading both: same Kafka version, settings the code really reads, configs that exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "infra" / "compose" / "docker-compose.yml").read_text(encoding="utf-8"))


def test_kafka_image_is_the_version_the_local_script_runs():
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{version}"


def test_worker_environment_names_are_settings_the_code_reads():
    readers = [ROOT / "junheng" / "settings.py", *sorted((ROOT / "junheng" / "alerting").glob("*.py"))]
    code = "\n".join(p.read_text(encoding="utf-8") for p in readers)
    for name in COMPOSE["services"]["worker"]["environment"]:
        assert f'"{name}"' in code, name


def test_worker_runs_a_junheng_command_and_alertmanager_uses_the_repository_config():
    from junheng.cli import build_parser

    command = COMPOSE["services"]["worker"]["command"][0]
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert command in subcommands.choices, sorted(subcommands.choices)
    mount = COMPOSE["services"]["alertmanager"]["volumes"][0].split(":")[0]
    config = (ROOT / "infra" / "compose" / mount).resolve()
    assert config.is_file() and yaml.safe_load(config.read_text(encoding="utf-8"))["route"]["receiver"]
    dockerfile = (ROOT / "infra" / "compose" / "Dockerfile").read_text(encoding="utf-8")
    for folder in re.findall(r"^COPY (\w+) \w+$", dockerfile, flags=re.M):
        assert (ROOT / folder).is_dir(), folder
