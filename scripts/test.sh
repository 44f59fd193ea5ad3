#!/usr/bin/env bash
# Full local test run: layering and format checks, then configure + build +
# ctest for each preset in $OTPP_PRESETS (default: dev asan-ubsan tsan
# release). Stops at the first failure. The clang preset (clang++ Debug
# without sanitizers) is left out by default: clang++'s diagnostics do not
# depend on the optimisation level, so asan-ubsan and tsan already build
# everything with it and -Werror.
#
# Under CI (CI set), dev is built with -g1 (functions and lines, no
# variables): a fifth less compile time, and CI reads backtraces, never
# locals. The sanitizer presets use line tables (all a report needs)
# everywhere. Locally dev keeps its full -g.
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
  extra=()
  if [[ $preset == dev ]]; then
    if [[ -n ${CI:-} ]]; then extra=(-DCMAKE_CXX_FLAGS_DEBUG=-g1); else extra=(-DCMAKE_CXX_FLAGS_DEBUG=-g); fi
  fi
  cmake --preset "$preset" "${extra[@]}"
  cmake --build --preset "$preset" -j2
  t1=$(date +%s)
  ctest --preset "$preset" -j2
  t2=$(date +%s)
  echo "==  preset $preset: OK (build $((t1 - t0)) s, tests $((t2 - t1)) s)"
done

echo
echo "All presets passed: $presets"
