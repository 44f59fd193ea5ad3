// erlang_node: an otpp program as a node of an Erlang cluster, serving the
// seed's math server to Erlang (or Elixir, or another otpp node).
//
// Shows:    otpp::dist::node started from a process (a name, a cookie,
//           registered with epmd); message types named once as Erlang
//           terms (OTPP_TERM_TAG: `add{1, 2}` is `{add, 1, 2}`); an
//           ordinary otpp server registered as `math`, which Erlang calls
//           with gen_server:call({math, Node}, {add, X, Y}) (the reply is
//           X + Y as a float) and casts {print_sum, X, Y} to (the server
//           prints the sum); a C++ function for rpc:call (math:add/2); a
//           clean end on SIGINT or SIGTERM.
// OTP idea: a distributed Erlang node (`erl -name ... -setcookie ...`)
//           running a registered gen_server.
// Run:      epmd -daemon                     # once; or any epmd, see ERL_EPMD_PORT
//           ./build/dev/examples/erlang_node --name otpp@127.0.0.1 --cookie C
//           then, in another shell, this prints 3.0:
//           erl -name e@127.0.0.1 -setcookie C -noshell -eval 'io:format("~p~n",
//             [gen_server:call({math, list_to_atom("otpp@127.0.0.1")}, {add, 1, 2})]), halt().'
//           as does rpc:call(list_to_atom("otpp@127.0.0.1"), math, add, [1, 2]);
//           and this makes the node print "print_sum: 3 + 4 = 7":
//           erl -name e@127.0.0.1 -setcookie C -noshell -eval 'gen_server:cast({math,
//             list_to_atom("otpp@127.0.0.1")}, {print_sum, 3, 4}), timer:sleep(500), halt().'
// Expected output (the port varies):
//   otpp node otpp@127.0.0.1 listening on 127.0.0.1:38211; math server registered as `math`
//   print_sum: 3 + 4 = 7                       (after the cast)
//   stopping                                    (after SIGINT or SIGTERM)
// Options:  --name N     the node's name, alive@host (required)
//           --cookie C   the cookie (default: the contents of ~/.erlang.cookie)
//           --port P     listen on port P (default: any free port)
//           --no-epmd    do not register with epmd (reachable by port only)
//           --help       this text
// ctest runs it (example/erlang_node) against a real Erlang node on a
// private epmd: tests/dist/erlang_node_example.sh.
#include <otpp/dist/node.hpp>
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace math {
struct add {
  double x, y;
};
struct print_sum {
  double x, y;
};
} // namespace math
// How the messages look as Erlang terms: {add, X, Y} and {print_sum, X, Y}.
OTPP_TERM_TAG(math::add, "add");
OTPP_TERM_TAG(math::print_sum, "print_sum");

namespace {

auto math_server() {
  return otpp::server<>()
      .on_call([](std::monostate&, const math::add& a) { return a.x + a.y; })
      .on_cast([](std::monostate&, const math::print_sum& p) {
        fmt::print("print_sum: {} + {} = {}\n", p.x, p.y, p.x + p.y);
        std::fflush(stdout);
      });
}

constexpr std::string_view usage =
    "usage: erlang_node --name alive@host [--cookie C] [--port P] [--no-epmd]\n"
    "  --name N     the node's name, alive@host (e.g. otpp@127.0.0.1)\n"
    "  --cookie C   the cookie (default: the contents of ~/.erlang.cookie)\n"
    "  --port P     listen on port P (default: any free port)\n"
    "  --no-epmd    do not register with epmd (reachable by port only)\n"
    "  --help       this text\n"
    "epmd is found on 127.0.0.1, port ERL_EPMD_PORT (default 4369).\n"
    "The node serves `math`: call {add, X, Y} -> X + Y, cast {print_sum, X, Y}.\n"
    "SIGINT or SIGTERM stops it.\n";

} // namespace

int main(int argc, char** argv) {
  otpp::dist::node_options opts;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "erlang_node: {} needs a value\n{}", a, usage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      fmt::print("{}", usage);
      return 0;
    }
    if (a == "--name")
      opts.name = value();
    else if (a == "--cookie")
      opts.cookie = value();
    else if (a == "--port")
      opts.port = static_cast<std::uint16_t>(std::stoi(value()));
    else if (a == "--no-epmd")
      opts.use_epmd = false;
    else {
      fmt::print(stderr, "erlang_node: unknown option {}\n{}", a, usage);
      return 2;
    }
  }
  if (opts.name.empty()) {
    fmt::print(stderr, "erlang_node: --name is required\n{}", usage);
    return 2;
  }

  // SIGINT and SIGTERM are taken by sigwait below: block them before the
  // runtime starts its threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  otpp::runtime rt;
  try {
    otpp::scoped_process main_process(rt);
    auto node = otpp::dist::node::start(opts);
    auto server = otpp::start(otpp::start_options{.name = "math"}, math_server());
    // rpc:call(Node, math, add, [X, Y]) runs a C++ function too.
    node->register_rpc("math", "add", [](double x, double y) { return x + y; });
    fmt::print("otpp node {} listening on {}:{}; math server registered as `math`\n", node->name(),
               opts.listen_address, node->port());
    std::fflush(stdout);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    fmt::print("stopping\n");
    std::fflush(stdout);
    otpp::stop(server);
    node->stop();
  } catch (const std::exception& e) {
    fmt::print(stderr, "erlang_node: {}\n", e.what());
    return 1;
  }
  return 0;
}
