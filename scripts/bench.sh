#!/usr/bin/env bash
# All benchmarks (python -m benchmarks): Python environment, the Kafka jars, a local broker (the
# pipeline and latency benchmarks need one; started here if none is running, and stopped again
# afterwards only if it was started here), then one table and benchmarks/results/<date>-<host>.json.
# Extra arguments go to python -m benchmarks, e.g. scripts/bench.sh --quick --only engine,pipeline
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare-with-kafka.sh   # environment, jars, a broker if none runs
.venv/bin/python -m benchmarks "$@"
