// expect: an event is shared by all handlers
// Misuse: an event callback that takes the event by non-const reference
// (every handler of the manager sees the same event).
#include <otpp/behaviour/event_handler.hpp>

struct login {
  int user;
};

auto h = otpp::event_handler<int>("h").on_event([](int& n, login& e) { n += e.user; });
