// code_lock: OTP's door code lock (the gen_statem guide's example) as a
// typed state machine under a supervisor.
//
// Shows:    states as types (locked, open), typed events (button casts, a
//           status call), an enter call that sets a state timeout (the door
//           relocks by itself), buttons postponed while the door is open and
//           retried once it is locked again, a compile-time checked set of
//           target states per handler, and a supervisor restarting the lock
//           when it is killed (it comes back locked, under the same name).
// OTP idea: gen_statem with state_functions and state_enter, {state_timeout,
//           T, lock}, postpone, a supervisor child.
// Run:      build the `code_lock` target and run it.
#include <otpp/behaviour/statem.hpp>
#include <otpp/otpp.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <variant>

using namespace std::chrono_literals;
namespace sm = otpp::sm;
namespace tp = otpp::this_process;

namespace {

struct locked {};
struct opened {};
struct button {
  char digit;
};
struct relock {};
struct which_state {
  using reply_type = std::string;
};
struct lock_data {
  std::string code;
  std::string entered;
};

auto code_lock() {
  return otpp::statem<lock_data, locked, opened>()
      .named("code_lock")
      // Locked: collect digits; the right code opens the door.
      .on<locked>([](locked&, lock_data& d, button b) -> sm::next<opened> {
        d.entered += b.digit;
        if (d.entered == d.code) {
          d.entered.clear();
          return sm::next_state(opened{});
        }
        if (d.entered.size() >= d.code.size())
          d.entered.clear(); // a wrong code: start again
        return sm::keep_state();
      })
      .on_any_state([](std::variant<locked, opened>& s, lock_data&, sm::call_of<which_state> q) {
        return sm::reply(q, std::string(s.index() == 0 ? "locked" : "open"));
      })
      // Open: relock after 200 ms; buttons wait until then.
      .on_enter<opened>([](opened&, lock_data&, const std::variant<locked, opened>&) {
        fmt::print("  the door opens\n");
        return sm::state_timeout(200ms, relock{});
      })
      .on<opened>([](opened&, lock_data&, sm::timeout_of<relock>) {
        fmt::print("  the door locks again\n");
        return sm::next_state(locked{});
      })
      .postpone<opened, button>()
      // Every state takes every button and status query: checked at compile time.
      .exhaustive<button, sm::call_of<which_state>>();
}

using lock_def = decltype(code_lock());

std::string door_state() {
  return otpp::call(otpp::by_name<lock_def>("door"), which_state{});
}

} // namespace

int main() {
  otpp::runtime rt;
  otpp::scoped_process main_process(rt);
  auto spec = otpp::supervisor_spec{
      .strategy = otpp::one_for_one,
      .children = {otpp::worker("door",
                                [] {
                                  return otpp::start_link(otpp::start_options{.name = "door"},
                                                          code_lock(), lock_data{"1234", ""});
                                })},
      .name = "doors"};
  auto sup = otpp::start(spec);
  auto door = otpp::by_name<lock_def>("door");

  fmt::print("the door is {}\n", door_state());
  for (char c : std::string("1234"))
    otpp::cast(door, button{c});
  tp::sleep_for(20ms);
  fmt::print("after 1234: {}\n", door_state());
  // Pressed while open: postponed, then entered once the door has locked.
  otpp::cast(door, button{'1'});
  otpp::cast(door, button{'2'});
  tp::sleep_for(300ms);
  auto st = otpp::get_state(door);
  fmt::print("after the state timeout: {} (digits waiting: \"{}\")\n", door_state(),
             st.data.entered);
  bool ok = door_state() == "locked" && st.data.entered == "12";

  // Kill it: the supervisor starts a new lock, locked, under the same name.
  otpp::pid before = door.resolve();
  otpp::kill(before);
  for (int i = 0; i < 1000 && (!door.resolve() || door.resolve() == before); ++i)
    tp::sleep_for(1ms);
  fmt::print("killed {}; restarted as {}: {}, digits \"{}\"\n", before, door.resolve(),
             door_state(), otpp::get_state(door).data.entered);
  ok = ok && door.resolve() != before && otpp::get_state(door).data.entered.empty();

  otpp::stop(sup, otpp::exit_reason::shutdown());
  return ok ? 0 : 1;
}
