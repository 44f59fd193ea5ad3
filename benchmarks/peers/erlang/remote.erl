%% remote: the Erlang side of benchmarks/workloads/remote.cpp (same roles,
%% same messages): ping-pong round trips to {pong, Peer}, then casts to
%% {sink, Peer} closed by a sync, then gen_server calls {add, X, Y} to
%% {calc, Peer} (as many as round trips).
%% Usage: erl -name NAME -setcookie C -noshell -run remote serve
%%        erl -name NAME -setcookie C -noshell -run remote client PEER [round_trips] [casts]
-module(remote).
-behaviour(gen_server).
-export([serve/0, client/1]).
-export([init/1, handle_call/3, handle_cast/2]).

serve() ->
    register(pong, spawn(fun pong/0)),
    register(sink, spawn(fun() -> sink(0) end)),
    {ok, _} = gen_server:start({local, calc}, ?MODULE, [], []),
    io:format("ready~n").

init([]) -> {ok, none}.
handle_call({add, X, Y}, _From, S) -> {reply, X + Y, S}.
handle_cast(_, S) -> {noreply, S}.

pong() ->
    receive {ping, From, N} -> From ! {pong, N} end,
    pong().

sink(Count) ->
    receive
        {cast, _} -> sink(Count + 1);
        {sync, From} -> From ! {synced, Count}, sink(Count)
    end.

client([Peer | Args]) ->
    P = list_to_atom(Peer),
    Trips = bench:arg(Args, 1, 100000),
    Casts = bench:arg(Args, 2, 1000000),
    {pong, P} ! {ping, self(), -1},
    receive {pong, -1} -> ok end,
    T0 = bench:now(),
    ping(P, 0, Trips),
    S1 = bench:seconds_since(T0),
    T1 = bench:now(),
    cast(P, 0, Casts),
    {sink, P} ! {sync, self()},
    Got = receive {synced, C} -> C end,
    S2 = bench:seconds_since(T1),
    T2 = bench:now(),
    call(P, 0, Trips),
    S3 = bench:seconds_since(T2),
    io:format("remote ping-pong: ~B round trips in ~s s: ~sk round trips/s~n",
              [Trips, bench:f(S1, 3), bench:f(Trips / S1 / 1.0e3, 1)]),
    io:format("remote casts: ~B in ~s s: ~sM casts/s~n",
              [Casts, bench:f(S2, 3), bench:f(Casts / S2 / 1.0e6, 2)]),
    io:format("remote calls: ~B in ~s s: ~sk calls/s~n",
              [Trips, bench:f(S3, 3), bench:f(Trips / S3 / 1.0e3, 1)]),
    Got =:= Casts orelse io:format("remote: the sink counted ~B casts, not ~B~n", [Got, Casts]),
    halt().

ping(_P, N, N) -> ok;
ping(P, I, N) ->
    {pong, P} ! {ping, self(), I},
    receive {pong, I} -> ping(P, I + 1, N) end.

cast(_P, N, N) -> ok;
cast(P, I, N) ->
    {sink, P} ! {cast, I},
    cast(P, I + 1, N).

call(_P, N, N) -> ok;
call(P, I, N) ->
    Sum = float(I) + 1.0,
    Sum = gen_server:call({calc, P}, {add, float(I), 1.0}),
    call(P, I + 1, N).
