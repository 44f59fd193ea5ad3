%% all-to-all: N processes; each sends a ping to every other and answers
%% every ping with a pong: 2 N (N - 1) messages.
%% Usage: all_to_all [processes=1000]
-module(all_to_all).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench:arg(Args, 1, 1000),
    Self = self(),
    Pids = [spawn(fun() -> start(Self, N) end) || _ <- lists:seq(1, N)],
    T0 = bench:now(),
    [P ! {peers, Pids} || P <- Pids],
    [receive done -> ok end || _ <- Pids],
    S = bench:seconds_since(T0),
    Messages = 2 * N * (N - 1),
    bench:finish(io_lib:format("all-to-all: ~B processes, ~B messages in ~s s: ~sM messages/s",
                               [N, Messages, bench:f(S, 3), bench:f(Messages / S / 1.0e6, 2)]),
                 true).

start(Main, N) ->
    receive {peers, Pids} -> ok end,
    Me = self(),
    [P ! {ping, Me} || P <- Pids, P =/= Me],
    loop(Main, N - 1, N - 1).

loop(Main, 0, 0) -> Main ! done;
loop(Main, Pings, Pongs) ->
    receive
        {ping, From} -> From ! pong, loop(Main, Pings - 1, Pongs);
        pong -> loop(Main, Pings, Pongs - 1)
    end.
