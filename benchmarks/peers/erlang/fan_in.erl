%% fan-in: P producers each send M messages to one consumer.
%% Usage: fan_in [producers=1000] [messages=1000]
-module(fan_in).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    Producers = bench:arg(Args, 1, 1000),
    Messages = bench:arg(Args, 2, 1000),
    Self = self(),
    Total = Producers * Messages,
    Consumer = spawn(fun() -> Self ! {done, consume(Total, 0)} end),
    T0 = bench:now(),
    [spawn(fun() -> produce(Consumer, Messages) end) || _ <- lists:seq(1, Producers)],
    Sum = receive {done, D} -> D end,
    S = bench:seconds_since(T0),
    Ok = Sum =:= Total,
    bench:finish(io_lib:format("fan-in: ~B producers x ~B messages in ~s s: ~sM messages/s~s",
                               [Producers, Messages, bench:f(S, 3), bench:f(Total / S / 1.0e6, 2),
                                if Ok -> ""; true -> " WRONG COUNT" end]),
                 Ok).

produce(_, 0) -> ok;
produce(Consumer, I) -> Consumer ! {item, 1}, produce(Consumer, I - 1).

consume(0, Sum) -> Sum;
consume(I, Sum) -> receive {item, V} -> consume(I - 1, Sum + V) end.
