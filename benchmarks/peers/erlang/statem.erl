%% statem: events through a two-state gen_statem (off / on, each flip toggles
%% the state), the same three figures as the otpp workload, one line each:
%%   1. N casts from one process on the machine's scheduler, then a call that
%%      checks the count;
%%   2. N gen_statem:call/2 calls (monitor, tagged reply) from one process;
%%   3. postpone-heavy: P casts postponed in state off, then one transition to
%%      on releases them all, oldest first.
%% gen_statem:call/2's default timeout is infinity (gen_server's is 5 s); the
%% otpp workload's call uses its default (5 s), which costs a timer per call
%% there, so this is the kinder comparison for Erlang.
%% Usage: statem [events=1000000] [postponed=100000]
-module(statem).
-behaviour(gen_statem).
-export([main/0, main/1]).
-export([init/1, callback_mode/0, handle_event/4]).

main() -> main([]).

main(Args) ->
    Events = bench:arg(Args, 1, 1000000),
    Postponed = bench:arg(Args, 2, 100000),
    Self = self(),
    %% 1. casts
    M1 = start_machine(),
    spawn_opt(fun() ->
                      T0 = bench:now(),
                      cast_loop(M1, Events),
                      N = gen_statem:call(M1, count),
                      Self ! {done, bench:seconds_since(T0), N}
              end, [{scheduler, 1}]),
    {S1, N1} = receive {done, Sec1, V1} -> {Sec1, V1} end,
    Ok1 = N1 =:= Events,
    io:put_chars(io_lib:format("statem cast: ~B events in ~s s: ~sM events/s~s~n",
                               [Events, bench:f(S1, 3), bench:f(Events / S1 / 1.0e6, 2),
                                ok_text(Ok1)])),
    ok = gen_statem:stop(M1),
    %% 2. calls
    M2 = start_machine(),
    spawn_opt(fun() ->
                      T0 = bench:now(),
                      Valid = call_loop(M2, 1, Events),
                      Self ! {done, bench:seconds_since(T0), Valid}
              end, [{scheduler, 1}]),
    {S2, Ok2} = receive {done, Sec2, V2} -> {Sec2, V2} end,
    io:put_chars(io_lib:format("statem call: ~B calls in ~s s: ~sM calls/s, ~s ns per call~s~n",
                               [Events, bench:f(S2, 3), bench:f(Events / S2 / 1.0e6, 2),
                                bench:f(S2 / Events * 1.0e9, 0), ok_text(Ok2)])),
    ok = gen_statem:stop(M2),
    %% 3. postponed, then released by one transition
    M3 = start_machine(),
    spawn_opt(fun() ->
                      T0 = bench:now(),
                      item_loop(M3, 1, Postponed),
                      gen_statem:cast(M3, release),
                      N = gen_statem:call(M3, count),
                      Self ! {done, bench:seconds_since(T0), N}
              end, [{scheduler, 1}]),
    {S3, N3} = receive {done, Sec3, V3} -> {Sec3, V3} end,
    Ok3 = N3 =:= Postponed andalso gen_statem:call(M3, ordered),
    ok = gen_statem:stop(M3),
    bench:finish(io_lib:format("statem postpone: ~B events postponed and released in ~s s: "
                               "~sM events/s~s",
                               [Postponed, bench:f(S3, 3), bench:f(Postponed / S3 / 1.0e6, 2),
                                ok_text(Ok3)]),
                 Ok1 andalso Ok2 andalso Ok3).

ok_text(true) -> "";
ok_text(false) -> " WRONG".

start_machine() ->
    {ok, M} = gen_statem:start(?MODULE, [], [{spawn_opt, [{scheduler, 1}]}]),
    M.

cast_loop(_M, 0) -> ok;
cast_loop(M, N) -> gen_statem:cast(M, flip), cast_loop(M, N - 1).

call_loop(_M, I, N) when I > N -> true;
call_loop(M, I, N) ->
    case gen_statem:call(M, flip_call) of
        I -> call_loop(M, I + 1, N);
        _ -> false
    end.

item_loop(_M, I, N) when I > N -> ok;
item_loop(M, I, N) -> gen_statem:cast(M, {item, I}), item_loop(M, I + 1, N).

%% The machine: Data = {Flips, Items, Last, Ordered}.
callback_mode() -> handle_event_function.
init([]) -> {ok, off, {0, 0, 0, true}}.

handle_event(cast, flip, off, {F, I, L, O}) -> {next_state, on, {F + 1, I, L, O}};
handle_event(cast, flip, on, {F, I, L, O}) -> {next_state, off, {F + 1, I, L, O}};
handle_event({call, From}, flip_call, S, {F, I, L, O}) ->
    {next_state, other(S), {F + 1, I, L, O}, [{reply, From, F + 1}]};
handle_event({call, From}, count, _S, {F, I, _, _}) ->
    {keep_state_and_data, [{reply, From, F + I}]};
handle_event({call, From}, ordered, _S, {_, _, _, O}) ->
    {keep_state_and_data, [{reply, From, O}]};
handle_event(cast, {item, _}, off, _D) -> {keep_state_and_data, [postpone]};
handle_event(cast, {item, N}, on, {F, I, L, O}) ->
    {keep_state, {F, I + 1, N, O andalso N =:= L + 1}};
handle_event(cast, release, off, D) -> {next_state, on, D}.

other(off) -> on;
other(on) -> off.
