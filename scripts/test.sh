#!/usr/bin/env bash
# The whole test suite, from a fresh clone: Python environment, the Kafka jars, a local broker,
# then every test (Kafka tests included: they fail, never skip, without a broker).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not kafka" for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare-with-kafka.sh   # environment, jars, a broker if none runs
set +e
bash scripts/lint.sh   # ruff (lint + format), mypy, import layers: a finding fails the run, after the tests
lint_rc=$?
.venv/bin/python -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 0 ] && [ "$lint_rc" != 0 ]; then
  echo "test.sh: the tests passed but scripts/lint.sh found problems (above)" >&2
  rc=1
fi
if [ "$rc" = 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$rc"
