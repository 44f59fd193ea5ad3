%% groups: process groups (OTP pg), the same figures as the otpp workload,
%% one line each:
%%   1. N pg:join/3 + pg:leave/3 pairs of one process to one group (each a
%%      call to the scope);
%%   2. R pg:get_members/2 of a 100-member group (a lookup in the scope's
%%      named ETS table; no message);
%%   3. the same again: Erlang has no snapshot without a copy, so this
%%      line repeats the second for the table's sake.
%% The scope and the caller share scheduler 1.
%% Usage: groups [ops=200000] [reads=1000000]
-module(groups).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    Ops = bench:arg(Args, 1, 200000),
    Reads = bench:arg(Args, 2, 1000000),
    Self = self(),
    spawn_opt(fun() -> Self ! {done, run(Ops, Reads)} end, [{scheduler, 1}]),
    Ok = receive {done, V} -> V end,
    erlang:halt(case Ok of true -> 0; false -> 1 end).

run(Ops, Reads) ->
    {ok, Scope} = pg:start_link(bench),
    T0 = bench:now(),
    Ok1 = join_leave(Ops, true),
    S1 = bench:seconds_since(T0),
    Ok2 = Ok1 andalso pg:which_groups(bench) =:= [],
    io:put_chars(io_lib:format("pg join+leave: ~B pairs in ~s s: ~sM pairs/s, ~s ns per pair~s~n",
                               [Ops, bench:f(S1, 3), bench:f(Ops / S1 / 1.0e6, 2),
                                bench:f(S1 / Ops * 1.0e9, 0), ok_text(Ok2)])),
    Members = [spawn(fun() -> receive _ -> ok end end) || _ <- lists:seq(1, 100)],
    ok = pg:join(bench, big, Members),
    Ok3 = read_line("pg get_members by name", Reads),
    Ok4 = read_line("pg members via scope", Reads),
    [P ! stop || P <- Members],
    unlink(Scope),
    exit(Scope, shutdown),
    Ok2 andalso Ok3 andalso Ok4.

read_line(Label, Reads) ->
    T0 = bench:now(),
    Total = read_loop(Reads, 0),
    S = bench:seconds_since(T0),
    Ok = Total =:= Reads * 100,
    io:put_chars(io_lib:format("~s: ~B reads of 100 members in ~s s: ~sM reads/s~s~n",
                               [Label, Reads, bench:f(S, 3), bench:f(Reads / S / 1.0e6, 2),
                                ok_text(Ok)])),
    Ok.

join_leave(0, Ok) -> Ok;
join_leave(N, Ok) ->
    ok = pg:join(bench, g, self()),
    join_leave(N - 1, Ok andalso pg:leave(bench, g, self()) =:= ok).

read_loop(0, Acc) -> Acc;
read_loop(N, Acc) -> read_loop(N - 1, Acc + length(pg:get_members(bench, big))).

ok_text(true) -> "";
ok_text(false) -> " WRONG".
