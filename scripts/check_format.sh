#!/usr/bin/env bash
# Check that every C++ source of the project is clang-formatted (.clang-format).
# `bash scripts/check_format.sh --fix` reformats in place instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t files < <(git ls-files -- '*.hpp' '*.cpp' | grep -v '^tests/compile_fail/')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "check_format: FAILED (run: bash scripts/check_format.sh --fix)" >&2
  exit 1
fi
echo "check_format: OK (${#files[@]} files)"
