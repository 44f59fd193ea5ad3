// expect: otpp::call_handler: the handler's definition has no on_call
// Misuse: calling an installed handler with a message its definition has
// no call callback for.
#include <otpp/behaviour/event_manager.hpp>

struct count_q {};
struct reset_q {};

auto counter = otpp::event_handler<int>("counter").on_call([](int& n, count_q) { return n; });

int ask(const otpp::handler_ref<decltype(counter)>& h) {
  return otpp::call_handler(h, reset_q{});
}
