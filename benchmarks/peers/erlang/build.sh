#!/usr/bin/env bash
# Builds the Erlang peer workloads into OUTDIR: OUTDIR/ebin/*.beam and one
# wrapper executable per workload (OUTDIR/skynet, OUTDIR/ping_pong, ...),
# each running the VM with 2 schedulers (+S 2:2; ERL_SCHEDULERS=n picks
# another count) and a process limit (+P)
# large enough for the processes its workload spawns.
# Usage: build.sh OUTDIR     (needs erlc and erl: Debian package erlang-base)
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
for tool in erlc erl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build.sh: '$tool' not found; install Erlang/OTP (apt-get install -y erlang-base)" >&2
    exit 1
  fi
done

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1/ebin"
OUT="$(cd "$1" && pwd)"
WORKLOADS=(skynet ping_pong ring spawn_idle fan_in server_call statem events groups etf all_to_all)

sources=("$SRC/bench.erl")
for w in "${WORKLOADS[@]}"; do
  sources+=("$SRC/$w.erl")
done
# remote.erl is run by benchmarks/run_remote.sh itself (it needs -name).
sources+=("$SRC/remote.erl")
erlc -Werror -o "$OUT/ebin" "${sources[@]}"

# The VM's process table is sized by +P and costs ~12 bytes of resident
# memory per slot from the start, so each wrapper asks for what its workload
# spawns (plus headroom) rather than a flat 5,000,000; never below Erlang's
# default of 262,144. $1 is the workload's first argument.
# shellcheck disable=SC2016 # the expressions are expanded by the wrapper
procs_expr() {
  case "$1" in
    skynet) echo '$(( ${1:-1000000} + ${1:-1000000} / 9 ))' ;; # leaves + inner nodes
    spawn_idle) echo '${1:-1000000}' ;;
    ring | fan_in | all_to_all) echo '${1:-1000}' ;;
    *) echo 0 ;;
  esac
}
for w in "${WORKLOADS[@]}"; do
  cat >"$OUT/$w" <<WRAPPER
#!/bin/sh
# $w: Erlang/OTP peer workload (built by benchmarks/peers/erlang/build.sh).
DIR="\$(cd "\$(dirname "\$0")" && pwd)"
procs=$(procs_expr "$w")
limit=\$((procs + 65536))
[ "\$limit" -lt 262144 ] && limit=262144
[ "\$limit" -gt 134217727 ] && limit=134217727
export ERL_CRASH_DUMP_SECONDS="\${ERL_CRASH_DUMP_SECONDS:-0}" # no crash dump file on a failed run
s="\${ERL_SCHEDULERS:-2}" # schedulers (run.sh's scaling runs set 1)
exec erl +S "\$s:\$s" +P "\$limit" -noshell -noinput -pa "\$DIR/ebin" -run $w main "\$@"
WRAPPER
  chmod +x "$OUT/$w"
done
echo "built Erlang peer workloads in $OUT: ${WORKLOADS[*]}"
