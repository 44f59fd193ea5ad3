// math_server: the managed-process tutorial's math server.
//
// Shows:    a stateless server definition (otpp::server<>()) with a call
//           handler (add -> double) and a cast handler for the same message
//           type (print_sum: the server prints, the client does not wait);
//           the unhandled policy `drop` (stray messages are ignored, a call
//           of an unknown type fails at once in the caller); a typed handle
//           (server_ref) behind a small client API, so the compiler checks
//           what clients send and knows the reply type; and what a call to a
//           stopped server gives: try_call returns the error `noproc`, call
//           throws call_error.
// OTP idea: gen_server:call/cast with handle_call/handle_cast; Cloud Haskell's
//             statelessProcess { apiHandlers = [handleCall_ add, handleCast_ printSum]
//                              , unhandledMessagePolicy = Drop }
// Run:      cmake --preset dev && cmake --build --preset dev --target math_server
//           && ./build/dev/examples/math_server
// Expected output (pid numbers vary):
//   add(2, 3) = 5
//   server: 10 + 0.5 = 10.5
//   print_sum was cast; add(1, 1) = 2 comes after it
//   stray message dropped; a call of an unknown type failed at once: {user, "unhandled call:
//     otpp::request<std::__cxx11::basic_string<char> >"}            (one line)
//   server <0.3.0> stopped
//   try_call after stop: noproc
//   call after stop threw: otpp::call to <0.3.0> failed: noproc
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <string>

namespace math {

// The protocol. Clients use the functions below, never this type directly.
struct add_request {
  double x;
  double y;
};

// The server definition: a value built once; each handler runs inside the
// server process. The state is std::monostate (no state).
inline auto definition() {
  return otpp::server<>()
      // A call: the handler's result is the reply (the caller gets a double).
      .on_call([](std::monostate&, add_request a) { return a.x + a.y; })
      // A cast of the same type goes to its own handler: nothing is replied.
      .on_cast([](std::monostate&, add_request a) {
        fmt::print("server: {} + {} = {}\n", a.x, a.y, a.x + a.y);
      })
      // Misbehaving clients are ignored instead of crashing the server.
      .unhandled(otpp::unhandled_policy::drop)
      .name("math_server");
}

// The typed handle: call/cast through it are checked at compile time.
using server = otpp::server_ref<decltype(definition())>;

server launch() {
  return otpp::start(definition());
}
double add(const server& s, double x, double y) {
  return otpp::call(s, add_request{x, y}); // waits up to 5 s (OTP's default)
}
void print_sum(const server& s, double x, double y) {
  otpp::cast(s, add_request{x, y}); // fire and forget
}

} // namespace math

int main() {
  otpp::runtime rt({.schedulers = 2});
  bool ok = true;
  {
    otpp::scoped_process client(rt); // main's thread is a process: it can call
    const math::server srv = math::launch();

    const double five = math::add(srv, 2, 3);
    fmt::print("add(2, 3) = {}\n", five);

    // A cast returns at once. Messages between two processes keep their
    // order, so the call after it is answered after the cast was handled.
    math::print_sum(srv, 10, 0.5);
    const double two = math::add(srv, 1, 1);
    fmt::print("print_sum was cast; add(1, 1) = {} comes after it\n", two);

    // Going around the API: a plain message is dropped silently; a call the
    // server has no handler for fails at once (with `drop`) instead of
    // waiting for the timeout. The server keeps running.
    otpp::send(srv, std::string("hello?"));
    auto bad = otpp::try_call<double>(srv, std::string("what is 2 + 2?"));
    fmt::print("stray message dropped; a call of an unknown type failed at once: {}\n",
               bad.ok() ? "(it did not)" : bad.error().to_string());
    ok = ok && five == 5 && two == 2 && !bad.ok() && math::add(srv, 0, 0) == 0;

    // Stop it (its reason: normal) and try again.
    otpp::stop(srv);
    fmt::print("server {} stopped\n", srv.pid());
    auto r = otpp::try_call(srv, math::add_request{1, 2});
    fmt::print("try_call after stop: {}\n", r.ok() ? "(a reply?)" : r.error().to_string());
    ok = ok && !r.ok() && r.error() == otpp::exit_reason::noproc();
    try {
      math::add(srv, 1, 2);
      ok = false;
    } catch (const otpp::call_error& e) {
      fmt::print("call after stop threw: {}\n", e.what());
      ok = ok && e.reason() == otpp::exit_reason::noproc();
    }
  }
  rt.run();
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
