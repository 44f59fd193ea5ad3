// expect: otpp::receive: every handler must return the same type
// Misuse: the value of a receive is the value of the handler that ran, so
// all handlers must agree on its type (here int vs std::string).
#include <otpp/core/receive.hpp>

#include <string>

auto next_value() {
  return otpp::this_process::receive([](int n) { return n; }, [](std::string& s) { return s; });
}
