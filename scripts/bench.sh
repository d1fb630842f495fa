#!/usr/bin/env bash
# All benchmarks (python -m benchmarks): Python environment, the Kafka jars, a local broker (the
# pipeline and latency benchmarks need one; started here if none is running, and stopped again
# afterwards only if it was started here), then one table and benchmarks/results/<date>-<host>.json.
# Extra arguments go to python -m benchmarks, e.g. scripts/bench.sh --quick --only engine,pipeline
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
.venv/bin/python -m benchmarks "$@"
