%% The Erlang side of the gen_server interop tests
%% (tests/dist/gen_server_test.cpp): gen_servers `calc` and `calc2` for
%% otpp to call, and call_otpp/1, which calls and casts the otpp node's
%% `math` server and prints what happened.
-module(gs_peer).
-behaviour(gen_server).
-export([start/0, call_otpp/1, init/1, handle_call/3, handle_cast/2]).

start() ->
    {ok, _} = gen_server:start({local, calc}, ?MODULE, [], []),
    {ok, _} = gen_server:start({local, calc2}, ?MODULE, [], []),
    io:format("calc ready~n").

init([]) -> {ok, none}.

handle_call({add, X, Y}, _From, S) -> {reply, X + Y, S};
handle_call(die, _From, S) -> {stop, died_on_purpose, S};
handle_call(bad, _From, S) -> {reply, <<"not a number">>, S};
handle_call({sleep, Ms}, _From, S) -> timer:sleep(Ms), {reply, 0.0, S}.

handle_cast({print, X}, S) -> io:format("cast ~p~n", [X]), {noreply, S}.

call_otpp(Node) ->
    io:format("sum ~p~n", [gen_server:call({math, Node}, {add, 1, 2})]),
    gen_server:cast({math, Node}, {print_sum, 3, 4}),
    io:format("crash ~p~n", [catch gen_server:call({math, Node}, crash)]),
    io:format("nobody ~p~n", [catch gen_server:call({nobody, Node}, {add, 1, 2})]),
    io:format("done~n").
