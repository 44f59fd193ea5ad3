#!/usr/bin/env bash
# Full local test run: layering check, then configure + build + ctest for each
# preset in $OTPP_PRESETS (default: dev clang asan-ubsan tsan).
# Stops at the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/check_layers.sh
bash scripts/check_format.sh

presets=${OTPP_PRESETS:-dev clang asan-ubsan tsan}
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
