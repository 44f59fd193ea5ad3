// The seed's math server, shared by the server tests.
#pragma once

#include <otpp/behaviour/server.hpp>

#include <string>

namespace otpp_test {

// Messages of the math server.
struct add {
  double x, y;
};
struct greet {
  std::string who;
};
struct touch {};
struct get_count {};
struct inc {
  int by;
};

// Reply types double, std::string, void and int; state: a counter.
inline auto math() {
  return otpp::server<int>()
      .on_call([](int&, add a) { return a.x + a.y; })
      .on_call([](int&, const greet& g) { return "hello " + g.who; })
      .on_call([](int& n, touch) { ++n; })
      .on_call([](const int& n, get_count) { return n; })
      .on_cast([](int& n, inc i) { n += i.by; });
}

} // namespace otpp_test
