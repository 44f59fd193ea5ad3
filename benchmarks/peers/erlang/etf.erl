%% etf: the external term format cost of a typical distribution message,
%% the same figures as the otpp workload (bench_etf), one line each:
%%   1. N term_to_binary of a gen_server call
%%      {'$gen_call', {Pid, Ref}, {add, X, 2.0}};
%%   2. N binary_to_term of it, reading X back;
%%   3. bytes per message.
%% Usage: etf [messages=1000000]
-module(etf).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench:arg(Args, 1, 1000000),
    Pid = self(),
    Ref = make_ref(),
    T0 = bench:now(),
    {Bin, Bytes} = encode(N, Pid, Ref, <<>>, 0),
    S1 = bench:seconds_since(T0),
    T1 = bench:now(),
    Sum = decode(N, Bin, 0.0),
    S2 = bench:seconds_since(T1),
    line("encode", N, S1),
    line("decode", N, S2),
    io:put_chars(io_lib:format("etf: ~B bytes per message (checksum ~B)~n",
                               [Bytes div N, case Sum > 0 of true -> 1; false -> 0 end])),
    erlang:halt(0).

line(What, N, S) ->
    io:put_chars(io_lib:format("etf: ~s ~B gen_server calls in ~s s: ~sM/s (~s ns each)~n",
                               [What, N, bench:f(S, 3), bench:f(N / S / 1.0e6, 2),
                                bench:f(S / N * 1.0e9, 0)])).

encode(0, _, _, Last, Bytes) -> {Last, Bytes};
encode(I, Pid, Ref, _, Bytes) ->
    B = term_to_binary({'$gen_call', {Pid, Ref}, {add, float(I), 2.0}}),
    encode(I - 1, Pid, Ref, B, Bytes + byte_size(B)).

decode(0, _, Sum) -> Sum;
decode(I, Bin, Sum) ->
    {'$gen_call', _, {add, X, _}} = binary_to_term(Bin),
    decode(I - 1, Bin, Sum + X).
