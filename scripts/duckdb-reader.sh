#!/usr/bin/env bash
# A Python with an older DuckDB, to check that a published marts file opens in the DuckDB that BI
# drivers bundle (docs/marts.md, "Reading it from a BI tool"). Prints the interpreter's path.
#
#   bash scripts/duckdb-reader.sh [VERSION]      # default 1.0.0, the oldest DuckDB 1.x
#
# The virtualenv is made once under ${XDG_CACHE_HOME:-~/.cache}/junheng/duckdb-VERSION (idempotent;
# the tests call this from their set-up) and holds nothing but duckdb==VERSION from the registry.
set -euo pipefail
VERSION=${1:-1.0.0}
PY=${PYTHON:-python3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/junheng
VENV="$CACHE/duckdb-$VERSION"
if ! "$VENV/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$VERSION')" >/dev/null 2>&1; then
  echo "duckdb-reader: installing duckdb==$VERSION into $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  "$PY" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "duckdb==$VERSION" >&2
fi
echo "$VENV/bin/python"
