// expect: does not list this event type
// Misuse: notifying a typed event manager of an event type its definition
// does not list.
#include <otpp/behaviour/event_manager.hpp>

struct login {};
struct logout {};

using log_manager = decltype(otpp::event_manager<login>());

void tell(const otpp::event_manager_ref<log_manager>& mgr) {
  otpp::notify(mgr, logout{});
}
