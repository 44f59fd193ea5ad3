#!/usr/bin/env bash
# Build and run one example with the `dev` preset:
# supervision_tree if it exists, otherwise ping_pong.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

if [ -f examples/supervision_tree.cpp ]; then
  example=supervision_tree
else
  example=ping_pong
fi

cmake --preset dev
cmake --build --preset dev --target "$example"
echo "==> running examples/$example"
exec "./build/dev/examples/$example"
