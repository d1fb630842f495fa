#!/usr/bin/env bash
# Make .venv hold exactly what the project needs (idempotent: a no-op when nothing changed).
# Every entry point (make demo, make test, .ci/run) starts here, so a fresh machine needs no
# manual step: only python3 (3.11) and the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
stamp="$VENV/.installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
echo "bootstrap: installing the project and its pinned dependencies into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24" >&2
"$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]" >&2
echo "$want" > "$stamp"
