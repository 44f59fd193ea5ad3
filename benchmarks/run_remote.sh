#!/usr/bin/env bash
# Remote messaging between two OS processes over Erlang distribution on
# loopback (127.0.0.1, a private epmd): ping-pong round trips/s, casts/s
# and gen_server calls/s
# (benchmarks/workloads/remote.cpp, benchmarks/peers/erlang/remote.erl),
# for every pair of client and server: otpp-otpp, otpp to Erlang, Erlang
# to otpp, Erlang-Erlang. Each pair runs RUNS times (default 3); prints
# every run and the medians. With REMOTE_TSV=path, also writes every run
# there (pair, round trips/s in k, casts/s in M, calls/s in k) for
# benchmarks/results.py (benchmarks/run.sh does).
# Usage: bash benchmarks/run_remote.sh [runs] [round_trips] [casts]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
trips=${2:-100000}
casts=${3:-1000000}

echo "==> building bench_remote (Release) and the Erlang peer"
cmake --preset release >/dev/null && cmake --build --preset release --target bench_remote -j2 >/dev/null || exit 1
bash benchmarks/peers/erlang/build.sh "$PWD/build/peers/erlang" >/dev/null || exit 1
otpp_bin=$PWD/build/release/benchmarks/bench_remote
ebin=$PWD/build/peers/erlang/ebin

dir=$(mktemp -d /tmp/otpp_remote_XXXXXX)
server_pid=""
epmd_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
  [ -n "$epmd_pid" ] && kill "$epmd_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  epmd -port "$port" -address 127.0.0.1 >/dev/null 2>&1 &
  epmd_pid=$!
  sleep 0.3
  kill -0 "$epmd_pid" 2>/dev/null && break
  epmd_pid=""
done
[ -n "$epmd_pid" ] || { echo "could not start epmd"; exit 1; }
export ERL_EPMD_PORT=$port

erl_node() { # name, then erl -run arguments
  local name=$1
  shift
  exec erl -name "$name@127.0.0.1" -setcookie bench -noshell -noinput +S 2:2 -pa "$ebin" \
    -kernel inet_dist_use_interface '{127,0,0,1}' -run "$@"
}

start_server() { # runtime
  : >"$dir/server.log"
  if [ "$1" = otpp ]; then
    "$otpp_bin" serve srv@127.0.0.1 bench >"$dir/server.log" 2>&1 &
  else
    (erl_node srv remote serve) >"$dir/server.log" 2>&1 &
  fi
  server_pid=$!
  for _ in $(seq 1 300); do
    grep -q ready "$dir/server.log" && return 0
    sleep 0.1
  done
  echo "the $1 server did not start:"; cat "$dir/server.log"; exit 1
}

run_client() { # runtime
  if [ "$1" = otpp ]; then
    timeout 300 "$otpp_bin" client cli@127.0.0.1 srv@127.0.0.1 bench "$trips" "$casts"
  else
    (timeout 300 erl -name cli@127.0.0.1 -setcookie bench -noshell -noinput +S 2:2 -pa "$ebin" \
      -kernel inet_dist_use_interface '{127,0,0,1}' -run remote client srv@127.0.0.1 "$trips" "$casts")
  fi
}

results=$dir/results.tsv
: >"$results"
for r in $(seq 1 "$runs"); do
  for pair in "otpp otpp" "otpp erlang" "erlang otpp" "erlang erlang"; do
    set -- $pair
    client=$1 server=$2
    start_server "$server"
    out=$(run_client "$client")
    kill -9 "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
    echo "run $r: client $client, server $server: $(echo "$out" | tr '\n' ' ')"
    rt=$(echo "$out" | sed -n 's/.*: \([0-9.]*\)k round trips\/s.*/\1/p')
    cs=$(echo "$out" | sed -n 's/.*: \([0-9.]*\)M casts\/s.*/\1/p')
    cl=$(echo "$out" | sed -n 's/.*: \([0-9.]*\)k calls\/s.*/\1/p')
    printf '%s-%s\t%s\t%s\t%s\n' "$client" "$server" "${rt:-nan}" "${cs:-nan}" "${cl:-nan}" >>"$results"
    sleep 0.5 # epmd forgets the server
  done
done

echo
echo "medians of $runs runs ($trips round trips, $casts casts, $trips calls; client-server):"
printf '%-16s %22s %16s %16s\n' "pair" "round trips/s (k)" "casts/s (M)" "calls/s (k)"
for pair in otpp-otpp otpp-erlang erlang-otpp erlang-erlang; do
  med() { grep "^$pair	" "$results" | cut -f"$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  printf '%-16s %22s %16s %16s\n' "$pair" "$(med 2)" "$(med 3)" "$(med 4)"
done
if [ -n "${REMOTE_TSV:-}" ]; then
  { printf '#date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"; cat "$results"; } >"$REMOTE_TSV"
fi
