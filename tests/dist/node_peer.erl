%% The Erlang side of the node tests (tests/dist/node_test.cpp): a process
%% registered as `peer` that traps exits, runs commands for the test
%% ({cmd, From, Cmd} -> From ! {reply, Result}) and reports the exits and
%% downs it receives to the process that sent {report_to, Pid}.
-module(node_peer).
-export([start/0]).

start() ->
    register(peer, spawn(fun() -> process_flag(trap_exit, true), loop() end)),
    io:format("peer ready~n").

loop() ->
    receive
        {cmd, From, Cmd} -> From ! {reply, run(Cmd)};
        {report_to, Pid} -> put(report, Pid);
        {'EXIT', Pid, Reason} -> report({exit, Pid, Reason});
        {'DOWN', _, process, Pid, Reason} -> report({down, Pid, Reason});
        {print, X} -> io:format("printed ~p~n", [X]);
        Other -> report({other, Other})
    end,
    loop().

report(X) ->
    case get(report) of
        undefined -> ok;
        Pid -> Pid ! X
    end.

run(self) -> self();
run({link, Pid}) -> link(Pid);
run({monitor, Pid}) -> erlang:monitor(process, Pid), ok;
run(victim) -> spawn(fun() -> receive {die, Reason} -> exit(Reason) end end);
run({echo, X}) -> X.
