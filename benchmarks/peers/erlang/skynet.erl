%% skynet: 1,111,111 processes in a tree of fan-out 10; leaves send their
%% number, each parent sums its 10 children. Expected sum 499999500000.
%% Usage: skynet [leaves=1000000]
-module(skynet).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    Leaves = bench:arg(Args, 1, 1000000),
    Self = self(),
    T0 = bench:now(),
    spawn(fun() -> skynet(Self, 0, Leaves) end),
    Result = receive Sum -> Sum end,
    S = bench:seconds_since(T0),
    Expected = Leaves * (Leaves - 1) div 2,
    Procs = Leaves + Leaves div 9,
    Ok = Result =:= Expected,
    bench:finish(io_lib:format("skynet: ~B processes, sum ~B in ~s s (~sM processes/s), peak RSS ~B MiB~s",
                               [Procs, Result, bench:f(S, 3), bench:f(Procs / S / 1.0e6, 2),
                                bench:peak_resident_bytes() bsr 20,
                                if Ok -> ""; true -> " WRONG SUM" end]),
                 Ok).

skynet(Parent, Num, 1) ->
    Parent ! Num;
skynet(Parent, Num, Size) ->
    Self = self(),
    Child = Size div 10,
    [spawn(fun() -> skynet(Self, Num + I * Child, Child) end) || I <- lists:seq(0, 9)],
    Parent ! collect(10, 0).

collect(0, Total) -> Total;
collect(N, Total) -> receive Sum -> collect(N - 1, Total + Sum) end.
