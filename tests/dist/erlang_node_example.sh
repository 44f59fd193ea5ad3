#!/usr/bin/env bash
# ctest example/erlang_node: the example against a real Erlang node, as its
# header comment says to run it, on a private epmd (loopback, own port):
# gen_server:call({math, Node}, {add, 1, 2}) prints 3.0, a cast makes the
# node print the sum, --help documents the options, SIGTERM ends it with 0.
# Usage: erlang_node_example.sh path/to/erlang_node
set -uo pipefail
bin=$1
dir=$(mktemp -d /tmp/otpp_erlang_node_XXXXXX)
node_pid=""
epmd_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null
  [ -n "$epmd_pid" ] && kill "$epmd_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "example/erlang_node: $*"
  echo "--- node output:"
  cat "$dir/node.log" 2>/dev/null
  exit 1
}
# Wait up to 30 s for `pattern` in file `f`.
wait_for() {
  local f=$1 pattern=$2
  for _ in $(seq 1 300); do
    grep -q -- "$pattern" "$f" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

"$bin" --help | grep -q -- "--cookie" || fail "--help does not document --cookie"

for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  epmd -port "$port" -address 127.0.0.1 > "$dir/epmd.log" 2>&1 &
  epmd_pid=$!
  sleep 0.3
  kill -0 "$epmd_pid" 2>/dev/null && break
  epmd_pid=""
done
[ -n "$epmd_pid" ] || fail "could not start epmd"
export ERL_EPMD_PORT=$port

"$bin" --name otpp_ex@127.0.0.1 --cookie excookie > "$dir/node.log" 2>&1 &
node_pid=$!
wait_for "$dir/node.log" "math server registered" || fail "the node did not start"

erl_run() {
  timeout 60 erl -name "$1@127.0.0.1" -setcookie excookie -noshell -noinput \
    -kernel inet_dist_use_interface '{127,0,0,1}' -eval "$2"
}
out=$(erl_run e_call 'io:format("~p~n", [gen_server:call({math, list_to_atom("otpp_ex@127.0.0.1")}, {add, 1, 2})]), halt().')
[ "$out" = "3.0" ] || fail "the call printed '$out', not 3.0"
out=$(erl_run e_rpc 'io:format("~p~n", [rpc:call(list_to_atom("otpp_ex@127.0.0.1"), math, add, [1, 2])]), halt().')
[ "$out" = "3.0" ] || fail "rpc:call printed '$out', not 3.0"
erl_run e_cast 'gen_server:cast({math, list_to_atom("otpp_ex@127.0.0.1")}, {print_sum, 3, 4}), timer:sleep(500), halt().' > /dev/null
wait_for "$dir/node.log" "print_sum: 3 + 4 = 7" || fail "the cast was not printed"

kill -TERM "$node_pid"
wait "$node_pid"
rc=$?
node_pid=""
[ "$rc" -eq 0 ] || fail "SIGTERM ended the node with status $rc"
grep -q "stopping" "$dir/node.log" || fail "the node did not say it was stopping"
echo "example/erlang_node: OK (3.0 from the call and from rpc:call, the cast printed, SIGTERM ended it cleanly)"
