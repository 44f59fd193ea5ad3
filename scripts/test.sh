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
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j2
  ctest --preset "$preset" -j2
  echo "==  preset $preset: OK"
done

echo
echo "All presets passed: $presets"
