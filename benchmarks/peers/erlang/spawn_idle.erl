%% spawn-idle: spawn N processes that each wait in receive; report the spawn
%% rate (until all are waiting) and the resident bytes per waiting process.
%% Usage: spawn_idle [processes=1000000]
%% Each process bumps a shared atomic counter (the counters module) right
%% before it blocks in receive, as the otpp workload does with std::atomic;
%% the main process polls the counter until it reaches N.
-module(spawn_idle).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench:arg(Args, 1, 1000000),
    Waiting = counters:new(1, [write_concurrency]),
    Rss0 = bench:resident_bytes(),
    T0 = bench:now(),
    spawn_all(N, Waiting),
    wait_for(Waiting, N),
    S = bench:seconds_since(T0),
    Rss1 = bench:resident_bytes(),
    Ok = counters:get(Waiting, 1) =:= N,
    bench:finish(io_lib:format("spawn-idle: ~B waiting processes in ~s s (~sM spawns/s), ~s resident bytes each",
                               [N, bench:f(S, 3), bench:f(N / S / 1.0e6, 2),
                                bench:f((Rss1 - Rss0) / N, 0)]),
                 Ok).

%% The pids are not kept (neither does the otpp workload): the processes stay
%% alive, blocked in receive, until the VM halts.
spawn_all(0, _) -> ok;
spawn_all(I, Waiting) ->
    spawn(fun() -> counters:add(Waiting, 1, 1), receive wake -> ok end end),
    spawn_all(I - 1, Waiting).

wait_for(Waiting, N) ->
    case counters:get(Waiting, 1) < N of
        true -> erlang:yield(), wait_for(Waiting, N);
        false -> ok
    end.
