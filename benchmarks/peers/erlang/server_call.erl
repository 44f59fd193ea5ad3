%% server call: N synchronous gen_server:call/2 calls (monitor, tagged reply,
%% 5 s default timeout: the same OTP semantics as otpp::call) from one client
%% to a counter gen_server, both on the same scheduler; each reply must be the
%% previous one + 1, and the counter must end at N.
%% Only the first of the otpp workload's three lines.
%% Usage: server_call [calls=1000000]
-module(server_call).
-behaviour(gen_server).
-export([main/0, main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

main() -> main([]).

main(Args) ->
    Calls = bench:arg(Args, 1, 1000000),
    Self = self(),
    {ok, Srv} = gen_server:start(?MODULE, 0, [{spawn_opt, [{scheduler, 1}]}]),
    spawn_opt(fun() ->
                      T0 = bench:now(),
                      Valid = call_loop(Srv, 1, Calls),
                      Self ! {done, bench:seconds_since(T0), Valid}
              end, [{scheduler, 1}]),
    {S, Valid} = receive {done, Sec, V} -> {Sec, V} end,
    Final = gen_server:call(Srv, get),
    ok = gen_server:stop(Srv),
    Ok = Valid andalso Final =:= Calls,
    bench:finish(io_lib:format("server call: ~B calls (1 client, same scheduler) in ~s s: ~sM calls/s, ~s ns per call~s",
                               [Calls, bench:f(S, 3), bench:f(Calls / S / 1.0e6, 2),
                                bench:f(S / Calls * 1.0e9, 0),
                                if Ok -> ""; true -> " WRONG COUNT" end]),
                 Ok).

call_loop(_Srv, I, N) when I > N -> true;
call_loop(Srv, I, N) ->
    case gen_server:call(Srv, increment) of
        I -> call_loop(Srv, I + 1, N);
        _ -> false
    end.

%% The counter server.
init(N) -> {ok, N}.
handle_call(increment, _From, N) -> {reply, N + 1, N + 1};
handle_call(get, _From, N) -> {reply, N, N}.
handle_cast(_Msg, N) -> {noreply, N}.
