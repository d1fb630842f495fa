#!/usr/bin/env bash
# The embedded demo from a fresh clone: no Kafka, no Java.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/junheng demo "$@"
