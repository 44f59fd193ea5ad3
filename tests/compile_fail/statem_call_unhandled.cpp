// expect: otpp::call: the definition has no call handler
// Misuse: calling a typed state machine with a message type no handler
// takes as call_of<M>.
#include <otpp/behaviour/statem.hpp>

struct locked {};
struct query {
  using reply_type = int;
};
struct other {};
struct data {};

auto machine = otpp::statem<data, locked>().on<locked>(
    [](locked&, data&, otpp::sm::call_of<query> q) { return otpp::sm::reply(q, 1); });

void ask(const otpp::statem_ref<decltype(machine)>& m) {
  (void)otpp::call(m, other{});
}
