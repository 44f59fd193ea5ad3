%% Shared helpers of the Erlang peer workloads: arguments, timing, resident
%% memory and output, mirroring benchmarks/workloads/bench_common.hpp.
-module(bench).
-compile({no_auto_import, [now/0]}).
-export([arg/3, now/0, seconds_since/1, resident_bytes/0, peak_resident_bytes/0,
         f/2, finish/2]).

%% The I-th (1-based) positional argument as an integer, or Default.
arg(Args, I, _Default) when length(Args) >= I -> list_to_integer(lists:nth(I, Args));
arg(_, _, Default) -> Default.

%% Monotonic time in nanoseconds (steady clock).
now() -> erlang:monotonic_time(nanosecond).

seconds_since(T0) -> (now() - T0) / 1.0e9.

%% Resident set size of this OS process (the whole VM), in bytes, from
%% /proc/self/statm.
resident_bytes() ->
    {ok, Bin} = file:read_file("/proc/self/statm"),
    [_Total, Resident | _] = string:lexemes(binary_to_list(Bin), " \n"),
    list_to_integer(Resident) * 4096.

%% Peak resident set size (VmHWM), in bytes.
peak_resident_bytes() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    case re:run(Bin, "VmHWM:\\s*(\\d+) kB", [{capture, all_but_first, list}]) of
        {match, [Kb]} -> list_to_integer(Kb) * 1024;
        nomatch -> 0
    end.

%% X with D decimals, as fmt's {:.Df} prints it.
f(X, 0) -> integer_to_list(round(X));
f(X, D) -> lists:flatten(io_lib:format("~.*f", [D, float(X)])).

%% Print the result line and stop the VM with the exit code.
finish(Line, Ok) ->
    io:put_chars([Line, $\n]),
    erlang:halt(case Ok of true -> 0; false -> 1 end).
