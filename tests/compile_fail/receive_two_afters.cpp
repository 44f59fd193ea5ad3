// expect: otpp::receive: after(...) must be the last argument
// Misuse: two timeout clauses; a receive has at most one, in last position.
#include <otpp/core/receive.hpp>

#include <chrono>

void wait_for_int() {
  using std::chrono::seconds;
  otpp::this_process::receive([](int) {}, otpp::after(seconds(1), [] {}),
                              otpp::after(seconds(2), [] {}));
}
