// expect: take the state by reference
// Misuse: a handler that takes the state by value. Its changes would go to a
// copy and be lost; the state must be taken as S&, const S& or auto&.
#include <otpp/behaviour/server.hpp>

struct inc {
  int by;
};

auto counter() {
  return otpp::server<int>().on_call([](int n, inc i) { return n + i.by; });
}
