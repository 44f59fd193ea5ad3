#!/usr/bin/env bash
# The side-by-side comparison: otpp against Erlang/OTP, CAF and Go on the same
# workloads, on this machine, in one run. Installs the peers from Debian if
# missing, builds everything in Release, runs every (workload, runtime) pair
# RUNS times (default 5) alternating runtimes, and writes benchmarks/RESULTS.md
# (medians, min, max, peak RSS, otpp's ratio to each peer).
#
# Usage: bash benchmarks/run.sh [runs]      (RUNTIMES="otpp go" to pick some)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}
runtimes=${RUNTIMES:-"otpp erlang caf go"}
per_run_timeout=${RUN_TIMEOUT:-120}

bash scripts/setup.sh >/dev/null
need=()
command -v erlc >/dev/null || need+=(erlang-base erlang-dev)
command -v go >/dev/null || need+=(golang-go)
[ -e /usr/include/caf/all.hpp ] || need+=(libcaf-dev)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "==> building otpp (Release)"
cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
mkdir -p build/peers/otpp
for w in skynet ping_pong ring spawn_idle fan_in server_call statem events groups etf all_to_all; do
  ln -sf "$PWD/build/release/benchmarks/bench_$w" "build/peers/otpp/$w"
done
for rt in $runtimes; do
  [ "$rt" = otpp ] && continue
  echo "==> building $rt"
  bash "benchmarks/peers/$rt/build.sh" "$PWD/build/peers/$rt" >/dev/null
done

# Each workload with the arguments every runtime gets.
workloads=(
  "skynet 1000000"
  "ping_pong 1000000"
  "ring 1000 10000000"
  "spawn_idle 1000000"
  "fan_in 1000 1000"
  "server_call 1000000"
  "statem 1000000 100000"
  "events 1000000 200000"
  "groups 200000 1000000"
  "etf 1000000"
  "all_to_all 1000"
)

raw=build/peers/raw.tsv
: >"$raw"
# Workloads also run on one scheduler (OTPP_SCHEDULERS, GOMAXPROCS,
# CAF_SCHEDULER_THREADS, ERL_SCHEDULERS = 1): RESULTS.md shows how each
# runtime scales from one scheduler to two (the runs above use two).
scaling=(
  "skynet 1000000"
  "fan_in 1000 1000"
  "all_to_all 1000"
)

# run_all LABEL-SUFFIX SPECS...: every spec RUNS times, runtimes alternating.
run_all() {
  local suffix=$1 spec w i rt lines rss_file line status rss_kib
  shift
  for spec in "$@"; do
    set -- $spec
    w=$1
    shift
    for ((i = 1; i <= runs; i++)); do
      for rt in $runtimes; do # alternate runtimes within each round
        [ -x "build/peers/$rt/$w" ] || continue # (statem, events, groups, etf: otpp and Erlang only)
        lines=1
        case $w in
        statem | events | groups | etf) lines=3 ;; # three figures: one line each, joined
        server_call) lines=2 ;;                    # 1 client, 100 clients (Erlang, CAF: the first only)
        esac
        rss_file=$(mktemp)
        if line=$(timeout "$per_run_timeout" /usr/bin/time -f "%M" -o "$rss_file" \
          "build/peers/$rt/$w" "$@" 2>/dev/null | head -n "$lines" | paste -sd '|' -); then
          status=ok
        else
          status=failed
        fi
        rss_kib=$(tail -n 1 "$rss_file" 2>/dev/null || echo 0)
        rm -f "$rss_file"
        printf '%s\t%s\t%d\t%s\t%s\t%s\n' "$w$suffix" "$rt" "$i" "$status" "$rss_kib" "$line" >>"$raw"
        printf '%-14s %-7s run %d: %s\n' "$w$suffix" "$rt" "$i" "${line:-($status)}"
      done
    done
  done
}

start=$(date +%s)
run_all "" "${workloads[@]}"
OTPP_SCHEDULERS=1 GOMAXPROCS=1 CAF_SCHEDULER_THREADS=1 ERL_SCHEDULERS=1 run_all "@1" "${scaling[@]}"
# Two OS processes over Erlang distribution (otpp and Erlang, every pairing).
remote=build/peers/remote.tsv
rm -f "$remote"
if [[ " $runtimes " == *" otpp "* && " $runtimes " == *" erlang "* ]]; then
  REMOTE_TSV=$remote bash benchmarks/run_remote.sh "$runs" 20000 500000 ||
    echo "==> the remote runs failed"
fi
echo "==> all runs took $(($(date +%s) - start)) s"

versions=build/peers/versions.txt
{
  # The floor for any exchange between two cores (bench_core_latency: two
  # threads, no otpp), which bounds ping-pong across schedulers.
  core=$(build/release/benchmarks/bench_core_latency | grep -oE '[0-9]+ ns per round trip' || echo "not measured")
  echo "machine	$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); two threads on two cores: $core"
  echo "otpp	$(sed -n 's/^project(otpp VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt) with $(g++ --version | head -1), Boost $(dpkg-query -W -f='${Version}' libboost1.81-dev 2>/dev/null)"
  command -v erl >/dev/null && echo "erlang	Erlang/OTP $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().') (erts $(erl -noshell -eval 'io:format("~s", [erlang:system_info(version)]), halt().')), +S 2:2"
  command -v go >/dev/null && echo "go	$(go version | cut -d' ' -f3-), GOMAXPROCS=$(nproc)"
  echo "caf	CAF $(dpkg-query -W -f='${Version}' libcaf-dev 2>/dev/null), 2 worker threads"
  echo "date	$(date -u +%Y-%m-%dT%H:%MZ)"
} >"$versions"

remote_arg=()
[ -s "$remote" ] && remote_arg=("$remote")
python3 benchmarks/results.py "$raw" "$versions" "$runs" "${remote_arg[@]}" >benchmarks/RESULTS.md
echo "==> wrote benchmarks/RESULTS.md"
