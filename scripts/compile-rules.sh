#!/usr/bin/env bash
# Compile the rules engine's hot-path modules with mypyc into build/compiled/rules (a copy; the
# source tree is never touched, so no stale binary can shadow an edited .py). The engine stays
# pure Python; the drivers load the compiled copy only while its SOURCE_DIGEST equals today's
# sources (junheng/compiled_engine.py), so an edited module never runs as an old binary.
#   scripts/compile-rules.sh [--no-bootstrap]   (bootstrap.sh itself calls it with --no-bootstrap)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-bootstrap" ]; then
  bash scripts/bootstrap.sh
fi
mkdir -p build
exec 9>build/.compile.lock
flock 9   # two bootstraps at once (parallel shells) build one after the other
if .venv/bin/python -m junheng.compiled_engine --check >/dev/null 2>&1; then
  echo "compiled: build/compiled is already a build of today's sources" >&2
  exit 0
fi
out=build/compiled
tmp=build/compiled.new   # built aside and moved in whole: a running driver never sees half a build
rm -rf "$tmp"
mkdir -p "$tmp"
cp -r rules "$tmp/rules"
find "$tmp/rules" -name __pycache__ -prune -exec rm -rf {} +
cd "$tmp"
# the hot path: these modules and the rule kinds (rules/kinds/, all but its __init__); the list is
# junheng/compiled_engine.py's COMPILED_MODULES
../../.venv/bin/mypyc rules/logic.py rules/moments.py rules/sections.py rules/contributions.py \
  rules/district.py rules/state.py rules/facts.py rules/model.py rules/kinds/[!_]*.py >mypyc.log 2>&1 \
  || { grep -E "error:" mypyc.log >&2 || tail -20 mypyc.log >&2; exit 1; }
rm -f mypyc.log
rm -rf build  # mypyc's intermediate C files; the .so files stay
cd ../..
.venv/bin/python -m junheng.compiled_engine --write-digest "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
echo "compiled: $(find "$out"/rules -name '*.so' | wc -l) modules in $out/rules" >&2
