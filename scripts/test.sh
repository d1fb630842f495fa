#!/usr/bin/env bash
# The whole test suite, from a fresh clone: Python environment, the Kafka jars, a local broker,
# then every test (Kafka tests included: they fail, never skip, without a broker).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not kafka" for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh   # first: the bootstrap's mypyc build needs a C compiler
bash scripts/bootstrap.sh
started_kafka=0
if ! bash infra/kafka/kafka.sh status >/dev/null 2>&1; then
  bash infra/kafka/kafka.sh start
  started_kafka=1
fi
cleanup() { if [ "$started_kafka" = 1 ]; then bash infra/kafka/kafka.sh stop || true; fi; }
trap cleanup EXIT
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$rc"
