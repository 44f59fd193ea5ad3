// expect: S is not one of the machine's states
// Misuse: a handler registered for a type that is not one of the states.
#include <otpp/behaviour/statem.hpp>

struct locked {};
struct ajar {};
struct push {};
struct data {};

auto door = otpp::statem<data, locked>().on<ajar>([](ajar&, data&, push) {});
