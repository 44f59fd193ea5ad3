// expect: otpp::receive: a handler must take one concrete message type
// Misuse: a generic lambda. receive picks messages by the handler's parameter
// type, which a generic lambda does not have: write `[](const my_msg& m) {...}`.
#include <otpp/core/receive.hpp>

void take_anything() {
  otpp::this_process::receive([](auto& message) { (void)message; });
}
