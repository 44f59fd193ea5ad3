%% ring: N processes in a ring pass one token for M hops in total.
%% Usage: ring [processes=1000] [hops=10000000]
-module(ring).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench:arg(Args, 1, 1000),
    Hops = bench:arg(Args, 2, 10000000),
    Self = self(),
    %% A coordinator process builds the ring and starts the token.
    spawn(fun() ->
                  Ring = [spawn(fun() -> receive {next, Next} -> hop(Self, Next) end end)
                          || _ <- lists:seq(1, N)],
                  [P ! {next, Next} || {P, Next} <- lists:zip(Ring, tl(Ring) ++ [hd(Ring)])],
                  %% The token reaches 0 at ring[Hops rem N].
                  Self ! {started, bench:now(), lists:nth(Hops rem N + 1, Ring)},
                  hd(Ring) ! Hops
          end),
    {T0, Last} = receive {started, At, L} -> {At, L} end,
    Finisher = receive {done, F} -> F end,
    S = bench:seconds_since(T0),
    Ok = Finisher =:= Last,
    Ok orelse io:format(standard_error, "ring: token ended at the wrong process~n", []),
    bench:finish(io_lib:format("ring: ~B processes, ~B hops in ~s s: ~sM hops/s",
                               [N, Hops, bench:f(S, 3), bench:f(Hops / S / 1.0e6, 2)]),
                 Ok).

hop(Main, Next) ->
    receive
        0 -> Main ! {done, self()}, Next ! -1;      % tell the ring to stop
        T when T < 0 -> Next ! T;
        T -> Next ! T - 1, hop(Main, Next)
    end.
