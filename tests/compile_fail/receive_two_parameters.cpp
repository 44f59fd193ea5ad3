// expect: otpp::receive: a handler must take exactly one message parameter
// Misuse: a handler with two parameters; send one struct holding both.
#include <otpp/core/receive.hpp>

void take_pair() {
  otpp::this_process::receive([](int a, int b) {
    (void)a;
    (void)b;
  });
}
