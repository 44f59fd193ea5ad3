// expect: names a state that is not one of the machine's states
// Misuse: a handler's result type names a target state the machine does not
// declare (statem<Data, States...>).
#include <otpp/behaviour/statem.hpp>

struct locked {};
struct unlocked {};
struct ajar {}; // not a state of the machine
struct push {};
struct data {};

auto door = otpp::statem<data, locked, unlocked>().on<locked>(
    [](locked&, data&, push) -> otpp::sm::next<unlocked, ajar> { return otpp::sm::keep_state(); });
