// expect: otpp::call: the definition has no call handler
// Misuse: calling a typed server with a message type its definition has no
// on_call handler for; add one, or call a plain pid with call<Reply>(pid, msg).
#include <otpp/behaviour/server.hpp>

#include <string>

struct add {
  double x, y;
};

auto math = otpp::server<>().on_call([](auto&, add a) { return a.x + a.y; });

void ask(const otpp::server_ref<decltype(math)>& srv) {
  (void)otpp::call(srv, std::string("not a handled type"));
}
