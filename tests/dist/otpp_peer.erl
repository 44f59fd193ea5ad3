%% The Erlang side of the control message tests (tests/dist/channel_test.cpp):
%% a process registered as `peer` that runs a command for the test and
%% answers {reply, Result}.
-module(otpp_peer).
-export([start/0]).

start() ->
    register(peer, spawn(fun loop/0)),
    io:format("peer ready~n").

loop() ->
    receive
        {cmd, From, Cmd} ->
            From ! {reply, run(Cmd)},
            loop()
    end.

run(self) -> self();
run({link, Pid}) -> link(Pid);
run({unlink, Pid}) -> unlink(Pid);
run({monitor, Pid}) -> erlang:monitor(process, Pid);
run({demonitor, Ref}) -> erlang:demonitor(Ref);
run({exit, Pid, Reason}) -> exit(Pid, Reason);
run(victim) -> spawn(fun() -> receive {die, Reason} -> exit(Reason) end end).
