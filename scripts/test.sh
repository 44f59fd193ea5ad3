#!/usr/bin/env bash
# Full local test run: layering and format checks, then configure + build +
# ctest for each preset in $OTPP_PRESETS (default: dev asan-ubsan tsan
# release). Stops at the first failure. The clang preset (clang++ Debug
# without sanitizers) is left out by default: clang++'s diagnostics do not
# depend on the optimisation level, so asan-ubsan and tsan already build
# everything with it and -Werror.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/check_layers.sh
bash scripts/check_format.sh

presets=${OTPP_PRESETS:-dev asan-ubsan tsan release}
for preset in $presets; do
  echo
  echo "=================================================================="
  echo "==  preset: $preset"
  echo "=================================================================="
  t0=$(date +%s)
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j2
  t1=$(date +%s)
  ctest --preset "$preset" -j2
  t2=$(date +%s)
  echo "==  preset $preset: OK (build $((t1 - t0)) s, tests $((t2 - t1)) s)"
done

echo
echo "All presets passed: $presets"
