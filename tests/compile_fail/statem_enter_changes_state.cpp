// expect: an enter call cannot change state, postpone or insert events
// Misuse: a state enter call returns a transition.
#include <otpp/behaviour/statem.hpp>

#include <variant>

struct locked {};
struct unlocked {};
struct data {};

auto door = otpp::statem<data, locked, unlocked>().on_enter<unlocked>(
    [](unlocked&, data&, const std::variant<locked, unlocked>&) { return otpp::sm::next_state(locked{}); });
