%% The Erlang side of tests/dist/pg_test.cpp: Erlang's own pg scope `chat`
%% and a process registered as `ctl` that runs the test's commands and
%% prints what it sees.
-module(pg_peer).
-export([start/0, start_hidden/1]).

start() ->
    {ok, _} = pg:start(chat),
    register(ctl, spawn(fun() -> loop([]) end)),
    io:format("pg ready~n").

%% On a hidden node: nodeup is not told for hidden connections, so pg
%% never looks for the other node's scope; the node sends its own discover
%% (what OTP's pg documentation says a hidden node must do).
start_hidden(OtppNode) ->
    {ok, _} = pg:start(chat),
    Me = spawn(fun() -> receive stop -> ok end end),
    ok = pg:join(chat, room, Me),
    true = net_kernel:connect_node(OtppNode),
    {chat, OtppNode} ! {discover, whereis(chat)},
    register(ctl, spawn(fun() -> loop([Me]) end)),
    io:format("hidden ready~n").

loop(Mine) ->
    receive
        {join, N} ->
            Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
            ok = pg:join(chat, room, Pids),
            io:format("joined ~p~n", [N]),
            loop(Pids ++ Mine);
        leave_one ->
            [P | Rest] = Mine,
            ok = pg:leave(chat, room, P),
            io:format("left one~n"),
            loop(Rest);
        {await, N} ->
            await(N, 1500),
            loop(Mine);
        greet ->
            Theirs = [P || P <- pg:get_members(chat, room), node(P) =/= node()],
            [P ! {hello, node()} || P <- Theirs],
            io:format("greeted ~p~n", [length(Theirs)]),
            loop(Mine)
    end.

%% Wait (up to 30 s) until the group has N members; print how many are
%% of another node.
await(N, 0) ->
    io:format("room never had ~p: ~p~n", [N, pg:get_members(chat, room)]);
await(N, Tries) ->
    Members = pg:get_members(chat, room),
    case length(Members) of
        N ->
            Remote = [P || P <- Members, node(P) =/= node()],
            io:format("room has ~p, ~p remote~n", [N, length(Remote)]);
        _ ->
            timer:sleep(20),
            await(N, Tries - 1)
    end.
