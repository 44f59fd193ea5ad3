// expect: otpp::receive: after(...) must be the last argument
// Misuse: the timeout clause placed before a message handler.
#include <otpp/core/receive.hpp>

#include <chrono>

void wait_for_int() {
  otpp::this_process::receive(otpp::after(std::chrono::seconds(1), [] {}), [](int) {});
}
