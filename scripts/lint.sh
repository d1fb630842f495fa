#!/usr/bin/env bash
# The house's habits, checked (make test runs this before the suite; CI fails on any finding):
# ruff's lint and format check, mypy (strict on the rules engine, the pipeline and the
# configuration: pyproject.toml), and the import layers (.importlinter).
set -euo pipefail
cd "$(dirname "$0")/.."
rc=0
step() { echo "lint: $*" >&2; "$@" || rc=1; }
step .venv/bin/ruff check --quiet .
step .venv/bin/ruff format --check --quiet .
step .venv/bin/mypy
# import-linter prints its banner and report on success too: shown only when a contract breaks
layers=$(.venv/bin/lint-imports --no-cache 2>&1) || { echo "$layers" >&2; rc=1; }
echo "lint: import layers (.importlinter): $(echo "$layers" | grep -E '^Contracts:' || echo 'failed')" >&2
if [ "$rc" != 0 ]; then
  echo "lint: failed (ruff check --fix / ruff format fix most findings)" >&2
fi
exit "$rc"
