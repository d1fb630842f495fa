#!/usr/bin/env bash
# Compile the rules engine's hot-path modules with mypyc into build/compiled/rules (a copy; the
# source tree is never touched, so no stale binary can shadow an edited .py). The engine stays
# pure Python: this is an optional speed-up, measured by `python -m benchmarks.engine --compiled`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
out=build/compiled
rm -rf "$out"
mkdir -p "$out"
cp -r rules "$out/rules"
find "$out/rules" -name __pycache__ -prune -exec rm -rf {} +
cd "$out"
../../.venv/bin/mypyc rules/logic.py rules/moments.py rules/sections.py rules/contributions.py \
  rules/district.py rules/state.py rules/facts.py rules/model.py >/dev/null
echo "compiled: $(ls rules/*.so | wc -l) modules in $out/rules" >&2
