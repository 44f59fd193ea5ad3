#!/usr/bin/env bash
# Builds the Go peer workloads: one executable per workload in OUTDIR.
# Usage: bash benchmarks/peers/go/build.sh OUTDIR
# Standard library only; nothing is downloaded (GOPROXY=off, GOFLAGS=-mod=mod),
# and the Go build cache and GOPATH live under OUTDIR/.go.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v go >/dev/null 2>&1; then
  echo "$0: 'go' not found: install the Go toolchain (apt-get install -y golang-go)" >&2
  exit 1
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)

export GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GONOSUMDB= GOPRIVATE= \
  GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOENV=off
export GOCACHE="$out/.go/cache" GOPATH="$out/.go/path"
unset GOOS GOARCH GOROOT 2>/dev/null || true

cd "$src"
for w in skynet ping_pong ring spawn_idle fan_in server_call all_to_all; do
  go build -trimpath -o "$out/$w" "./$w"
done
echo "built $(go version | cut -d' ' -f3) workloads into $out"
