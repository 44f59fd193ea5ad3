// expect: exhaustive(): no handler takes event E in state S
// Misuse: a machine asked to be exhaustive has a state that takes no `button`.
#include <otpp/behaviour/statem.hpp>

struct locked {};
struct unlocked {};
struct button {
  char digit;
};
struct lock_now {};
struct data {};

auto door = otpp::statem<data, locked, unlocked>()
                .on<locked>([](locked&, data&, button) { return otpp::sm::next_state(unlocked{}); })
                .on<unlocked>([](unlocked&, data&, lock_now) { return otpp::sm::next_state(locked{}); })
                .exhaustive<button>();
