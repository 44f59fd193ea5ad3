// expect: otpp::cast: the definition has no cast handler
// Misuse: casting a typed server a message type its definition has no
// on_cast handler for (a call handler for the type does not count).
#include <otpp/behaviour/server.hpp>

struct add {
  double x, y;
};
struct print_sum {
  double x, y;
};

auto math = otpp::server<>().on_call([](auto&, add a) { return a.x + a.y; });

void tell(const otpp::server_ref<decltype(math)>& srv) {
  otpp::cast(srv, print_sum{1, 2});
}
