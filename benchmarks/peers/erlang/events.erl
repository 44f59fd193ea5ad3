%% events: a gen_event manager, the same three figures as the otpp workload,
%% one line each:
%%   1. N gen_event:notify/2 from one process to a manager with 1 counting
%%      handler, then a gen_event:sync_notify/2; the count is checked;
%%   2. the same with 10 handlers ({events, I} ids, each counts every event);
%%   3. S gen_event:sync_notify/2 calls: the latency of one.
%% The manager and the notifier share scheduler 1.
%% Usage: events [events=1000000] [syncs=200000]
-module(events).
-behaviour(gen_event).
-export([main/0, main/1]).
-export([init/1, handle_event/2, handle_call/2, handle_info/2, terminate/2]).

main() -> main([]).

main(Args) ->
    Events = bench:arg(Args, 1, 1000000),
    Syncs = bench:arg(Args, 2, 200000),
    Ok1 = notify_line(1, Events),
    Ok2 = notify_line(10, Events),
    {S, N} = run(1, fun(M) -> sync_loop(M, Syncs) end),
    Ok3 = N =:= Syncs,
    bench:finish(io_lib:format("events sync_notify: ~B in ~s s: ~sM/s, ~s ns each~s",
                               [Syncs, bench:f(S, 3), bench:f(Syncs / S / 1.0e6, 2),
                                bench:f(S / Syncs * 1.0e9, 0), ok_text(Ok3)]),
                 Ok1 andalso Ok2 andalso Ok3).

notify_line(Handlers, Events) ->
    {S, N} = run(Handlers, fun(M) ->
                                   notify_loop(M, Events),
                                   ok = gen_event:sync_notify(M, tick)
                           end),
    Ok = N =:= (Events + 1) * Handlers,
    io:put_chars(io_lib:format("events notify x~B: ~B events in ~s s: ~sM events/s, "
                               "~sM handler runs/s~s~n",
                               [Handlers, Events, bench:f(S, 3), bench:f(Events / S / 1.0e6, 2),
                                bench:f(Events * Handlers / S / 1.0e6, 2), ok_text(Ok)])),
    Ok.

%% Run Body(Manager) in a process on scheduler 1 against a fresh manager
%% with Handlers counters; returns {Seconds, TotalCount}.
run(Handlers, Body) ->
    Self = self(),
    spawn_opt(fun() ->
                      {ok, M} = gen_event:start([{spawn_opt, [{scheduler, 1}]}]),
                      Ids = [{?MODULE, I} || I <- lists:seq(1, Handlers)],
                      [ok = gen_event:add_handler(M, Id, []) || Id <- Ids],
                      T0 = bench:now(),
                      Body(M),
                      S = bench:seconds_since(T0),
                      Total = lists:sum([gen_event:call(M, Id, count) || Id <- Ids]),
                      ok = gen_event:stop(M),
                      Self ! {done, S, Total}
              end, [{scheduler, 1}]),
    receive {done, S, Total} -> {S, Total} end.

notify_loop(_M, 0) -> ok;
notify_loop(M, N) -> gen_event:notify(M, tick), notify_loop(M, N - 1).

sync_loop(_M, 0) -> ok;
sync_loop(M, N) -> ok = gen_event:sync_notify(M, tick), sync_loop(M, N - 1).

ok_text(true) -> "";
ok_text(false) -> " WRONG COUNT".

%% The handler: a counter.
init([]) -> {ok, 0}.
handle_event(tick, C) -> {ok, C + 1}.
handle_call(count, C) -> {ok, C, C}.
handle_info(_, C) -> {ok, C}.
terminate(_, _) -> ok.
