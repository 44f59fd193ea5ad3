// expect: otpp::receive: the after() handler must return the same type as the message handlers
// Misuse: the timeout clause returns nothing while the handler returns an int.
#include <otpp/core/receive.hpp>

#include <chrono>

int next_int() {
  return otpp::this_process::receive([](int n) { return n; },
                                     otpp::after(std::chrono::seconds(1), [] {}));
}
