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
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV" >&2
    "$PY" -m venv "$VENV"
  fi
  echo "bootstrap: installing the project and its pinned dependencies into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24" >&2
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]" >&2
  echo "$want" > "$stamp"
fi
# The rules engine compiled by mypyc (1.4-1.6x faster; the drivers use it only while it matches
# the sources, junheng/compiled_engine.py). Rebuilt when rules/ changed; a failed build leaves the
# drivers on the pure-Python engine, which gives the same results.
if [ "${JUNHENG_ENGINE:-auto}" != "pure" ] && ! "$VENV/bin/python" -m junheng.compiled_engine --check >/dev/null 2>&1; then
  echo "bootstrap: compiling the rules engine with mypyc (about a minute; JUNHENG_ENGINE=pure skips it)" >&2
  bash scripts/compile-rules.sh --no-bootstrap \
    || echo "bootstrap: the mypyc build failed; the drivers will run the pure-Python engine" >&2
fi
