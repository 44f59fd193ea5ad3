#!/usr/bin/env escript
%% The Erlang side of the codec cross-check (tests/dist/etf_test.cpp).
%% In Dir: decodes otpp's encodings (ours.bin) with binary_to_term and
%% writes term_to_binary of each back (ours_back.bin); writes BEAM's own
%% encodings of terms made by a real VM (pids, refs, ports, funs...) to
%% beam.bin, waits for otpp's re-encoding of them (back.bin) and prints
%% "checked N ok" if every one is =:= to the original.
%% Frames: a 32-bit big-endian length, then the bytes.
-mode(compile).

main([Dir]) ->
    {ok, Ours} = file:read_file(filename:join(Dir, "ours.bin")),
    Back = [frame(term_to_binary(binary_to_term(B), [{minor_version, 2}]))
            || B <- frames(Ours)],
    ok = file:write_file(filename:join(Dir, "ours_back.bin"), Back),
    Samples = samples(),
    Tmp = filename:join(Dir, "beam.tmp"),
    %% BEAM's default encoding (Latin-1 atoms where they fit), then UTF-8.
    ok = file:write_file(Tmp, [frame(term_to_binary(T)) || T <- Samples] ++
                              [frame(term_to_binary(T, [{minor_version, 2}])) || T <- Samples]),
    ok = file:rename(Tmp, filename:join(Dir, "beam.bin")),
    Got = wait_for(filename:join(Dir, "back.bin"), 600),
    Expected = Samples ++ Samples,
    case Got =:= Expected of
        true ->
            io:format("checked ~p ok~n", [length(Got)]);
        false ->
            Diff = [{E, G} || {E, G} <- lists:zip(Expected, pad(Got, length(Expected))), E =/= G],
            io:format("checked ~p mismatch~n~p~n", [length(Got), Diff])
    end.

samples() ->
    [self(), make_ref(), hd(erlang:ports()), fun lists:map/2, fun(X) -> X + 1 end,
     1 bsl 200, -(1 bsl 70), 3.14, -0.5, <<1, 2, 3:4>>, <<>>, <<"bin">>,
     #{a => [1, 2, {b, "str"}], <<"k">> => 1.0, 7 => #{}},
     [a | b], [1, [2, [3]]], 'h\x{e9}llo', '\x{3b1}\x{3b2}', "", {}, "unicode \x{263a}",
     list_to_atom(lists:duplicate(255, $q)), {self(), make_ref(), [self()]},
     lists:seq(1, 300), list_to_tuple(lists:seq(1, 300)), 16#7fffffffffffffff,
     -16#8000000000000000, 16#ffffffffffffffff].

pad(L, N) when length(L) >= N -> L;
pad(L, N) -> L ++ lists:duplicate(N - length(L), missing).

wait_for(File, 0) ->
    io:format("no ~s~n", [File]),
    [];
wait_for(File, N) ->
    case file:read_file(File) of
        {ok, Bin} ->
            [binary_to_term(B) || B <- frames(Bin)];
        {error, _} ->
            timer:sleep(100),
            wait_for(File, N - 1)
    end.

frame(Bin) -> [<<(byte_size(Bin)):32>>, Bin].

frames(<<N:32, B:N/binary, Rest/binary>>) -> [B | frames(Rest)];
frames(<<>>) -> [].
