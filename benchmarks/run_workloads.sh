#!/usr/bin/env bash
# Build the workload benchmarks in Release and run each one N times (default 5),
# printing every run's line. Usage: bash benchmarks/run_workloads.sh [runs]
# Set OTPP_SCHEDULERS to override the scheduler count of every workload.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}

bash scripts/setup.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
bin=build/release/benchmarks

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r), $(g++ --version | head -1)"
for workload in "skynet" "ping_pong" "ping_pong 1000000 0" "ring" "spawn_idle" "fan_in" "selective_receive" "server_call" "supervisor_restart"; do
  set -- $workload
  name=$1
  shift
  for ((i = 1; i <= runs; i++)); do
    timeout 300 "$bin/bench_$name" "$@"
  done
done
