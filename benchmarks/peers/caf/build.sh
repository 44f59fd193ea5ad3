#!/usr/bin/env bash
# Builds the CAF peer workloads: one executable per workload in OUTDIR.
# Usage: bash benchmarks/peers/caf/build.sh [OUTDIR=build/peers/caf]
# Needs g++ (C++17) and CAF 0.17 (Debian: apt-get install libcaf-dev).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../../build/peers/caf}
cxx=${CXX:-g++}
workloads=(skynet ping_pong ring spawn_idle fan_in server_call all_to_all)

die() {
  echo "caf/build.sh: $*" >&2
  exit 1
}
command -v "$cxx" >/dev/null || die "C++ compiler '$cxx' not found (apt-get install g++)"
echo '#include <caf/config.hpp>' | "$cxx" -std=c++17 -E -x c++ - >/dev/null 2>&1 ||
  die "CAF headers not found (apt-get install libcaf-dev)"
[ "$("$cxx" -print-file-name=libcaf_core.so)" != libcaf_core.so ] ||
  die "libcaf_core.so not found (apt-get install libcaf-dev)"
version=$(echo '#include <caf/config.hpp>
CAF_VERSION' | "$cxx" -std=c++17 -E -P -x c++ - | tail -n 1)
[ "$((version / 100))" = 17 ] || echo "caf/build.sh: warning: written for CAF 0.17, found $version" >&2

mkdir -p "$out"
# Two compilers at a time (the machine has 2 cores); CAF's headers are heavy.
printf '%s\n' "${workloads[@]}" | xargs -P 2 -I{} \
  "$cxx" -O2 -std=c++17 -pthread -o "$out/{}" "$here/{}.cpp" -lcaf_core ||
  die "compilation failed"
for w in "${workloads[@]}"; do
  [ -x "$out/$w" ] || die "$out/$w was not built"
done
echo "caf/build.sh: built ${workloads[*]} in $out"
