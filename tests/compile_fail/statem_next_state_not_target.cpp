// expect: next_state to a state that is not among this handler's targets
// Misuse: a handler declared to go to `unlocked` only returns a transition to
// another state.
#include <otpp/behaviour/statem.hpp>

struct locked {};
struct unlocked {};
struct push {};
struct data {};

auto door = otpp::statem<data, locked, unlocked>().on<unlocked>(
    [](unlocked&, data&, push) -> otpp::sm::next<unlocked> { return otpp::sm::next_state(locked{}); });
