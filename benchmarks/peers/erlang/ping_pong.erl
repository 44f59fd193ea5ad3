%% ping-pong: two processes exchange a message back and forth.
%% Usage: ping_pong [round_trips=1000000] [same_scheduler=1]
%% With same_scheduler=1 both processes are bound to scheduler 1, otherwise
%% the pinger is bound to scheduler 2 (spawn_opt's {scheduler, N} option, as
%% the otpp workload pins them with spawn_options::scheduler).
-module(ping_pong).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    Trips = bench:arg(Args, 1, 1000000),
    Same = bench:arg(Args, 2, 1) =/= 0,
    Self = self(),
    Ponger = spawn_opt(fun pong/0, [{scheduler, 1}]),
    T0 = bench:now(),
    PingSched = case Same of true -> 1; false -> min(2, erlang:system_info(schedulers)) end,
    spawn_opt(fun() -> Ok = ping(Ponger, 0, Trips), Ponger ! stop, Self ! {done, Ok} end,
              [{scheduler, PingSched}]),
    Ok = receive {done, V} -> V end,
    S = bench:seconds_since(T0),
    Ok orelse io:format(standard_error, "ping-pong: wrong reply~n", []),
    bench:finish(io_lib:format("ping-pong: ~B round trips (~s scheduler) in ~s s: ~sM round trips/s",
                               [Trips, case Same of true -> "same"; false -> "cross" end,
                                bench:f(S, 3), bench:f(Trips / S / 1.0e6, 2)]),
                 Ok).

ping(_Ponger, N, N) -> true;
ping(Ponger, I, N) ->
    Ponger ! {ping, self(), I},
    receive
        {pong, I} -> ping(Ponger, I + 1, N);
        {pong, _} -> false
    end.

pong() ->
    receive
        {ping, From, N} -> From ! {pong, N}, pong();
        stop -> ok
    end.
