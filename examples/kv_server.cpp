// kv_server: a typed key-value store server, registered under a name.
//
// Shows:    a server whose state is a std::map; call handlers with typed
//           replies (std::optional<std::string>, bool, std::size_t), read-only
//           handlers taking the state by const reference, a cast handler for
//           the same message type as a call (put_async: fire and forget),
//           starting under a registered name with start_options (a second
//           start under that name fails with already_started), finding the
//           server again by name, status() (sys:get_status) and stop().
// OTP idea: a gen_server started with gen_server:start({local, kv}, ...),
//           handle_call for put/get/erase/size, handle_cast for an async put,
//           sys:get_status/1, gen_server:stop/1.
// Run:      cmake --preset dev && cmake --build --preset dev --target kv_server
//           && ./build/dev/examples/kv_server
// Expected output (pid numbers vary):
//   started "kv": <0.3.0>
//   put(apple, red): previous none
//   put(apple, green): previous red
//   put_async(banana, yellow), put_async(cherry, dark red)
//   get(banana) = yellow, get(durian) = none
//   erase(apple): true, then false
//   size() = 2
//   status: kv <0.3.0>, 9 messages handled, 0 waiting,
//     state {"banana": "yellow", "cherry": "dark red"}          (one line)
//   a second start as "kv" fails: {user, "already_started"}
//   stopped; whereis("kv") finds nothing: true
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h> // formats the std::map state in status reports

#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace kv {

// The protocol.
struct put_request { // call: -> the previous value; cast: no reply
  std::string key;
  std::string value;
};
struct get_request { // call: -> the value
  std::string key;
};
struct erase_request { // call: -> whether the key was there
  std::string key;
};
struct size_request {}; // call: -> the number of keys

using store = std::map<std::string, std::string>;

inline auto definition() {
  return otpp::server<store>()
      .on_call([](store& s, put_request p) -> std::optional<std::string> {
        std::optional<std::string> previous;
        if (auto it = s.find(p.key); it != s.end())
          previous = std::exchange(it->second, std::move(p.value));
        else
          s.emplace(std::move(p.key), std::move(p.value));
        return previous;
      })
      .on_cast(
          [](store& s, put_request p) { s.insert_or_assign(std::move(p.key), std::move(p.value)); })
      .on_call([](const store& s, const get_request& g) -> std::optional<std::string> {
        if (auto it = s.find(g.key); it != s.end())
          return it->second;
        return std::nullopt;
      })
      .on_call([](store& s, const erase_request& e) { return s.erase(e.key) == 1; })
      .on_call([](const store& s, size_request) { return s.size(); })
      .name("kv");
}

// The typed handle, and the client API over it.
using server = otpp::server_ref<decltype(definition())>;

inline const std::string registered_name = "kv";

// Start the store registered as "kv" (fails if that name is taken).
otpp::start_result<server> start() {
  return otpp::try_start(otpp::start_options{.name = registered_name}, definition());
}
// The running store, found by its name (an empty handle if there is none).
server find() {
  return server(otpp::whereis(registered_name));
}

std::optional<std::string> put(const server& s, std::string key, std::string value) {
  return otpp::call(s, put_request{std::move(key), std::move(value)});
}
void put_async(const server& s, std::string key, std::string value) {
  otpp::cast(s, put_request{std::move(key), std::move(value)});
}
std::optional<std::string> get(const server& s, std::string key) {
  return otpp::call(s, get_request{std::move(key)});
}
bool erase(const server& s, std::string key) {
  return otpp::call(s, erase_request{std::move(key)});
}
std::size_t size(const server& s) {
  return otpp::call(s, size_request{});
}

} // namespace kv

namespace {
std::string show(const std::optional<std::string>& v) {
  return v ? *v : std::string("none");
}
} // namespace

int main() {
  otpp::runtime rt({.schedulers = 2});
  bool ok = true;
  {
    otpp::scoped_process client(rt);
    const auto started = kv::start();
    ok = started.ok();
    if (!ok) {
      fmt::print("start failed: {}\n", started.error());
      return 1;
    }
    // Any process can reach it by name; here, we look it up again.
    const kv::server db = kv::find();
    fmt::print("started \"{}\": {}\n", kv::registered_name, db.pid());
    ok = ok && db == started.value();

    const auto p1 = kv::put(db, "apple", "red");
    fmt::print("put(apple, red): previous {}\n", show(p1));
    const auto p2 = kv::put(db, "apple", "green");
    fmt::print("put(apple, green): previous {}\n", show(p2));

    // Casts return at once; the next call is handled after them (messages
    // from one process arrive in order).
    kv::put_async(db, "banana", "yellow");
    kv::put_async(db, "cherry", "dark red");
    fmt::print("put_async(banana, yellow), put_async(cherry, dark red)\n");
    const auto banana = kv::get(db, "banana");
    const auto durian = kv::get(db, "durian");
    fmt::print("get(banana) = {}, get(durian) = {}\n", show(banana), show(durian));

    const bool erased = kv::erase(db, "apple");
    const bool erased_again = kv::erase(db, "apple");
    fmt::print("erase(apple): {}, then {}\n", erased, erased_again);
    const std::size_t n = kv::size(db);
    fmt::print("size() = {}\n", n);

    // sys:get_status: the state is printed with fmt when it can be.
    const otpp::sys_status st = otpp::status(db);
    fmt::print("status: {} {}, {} messages handled, {} waiting, state {}\n", st.name, st.pid,
               st.handled, st.mailbox_length, st.state);

    // The name is taken while the store runs.
    const auto again = kv::start();
    fmt::print("a second start as \"{}\" fails: {}\n", kv::registered_name,
               again.ok() ? std::string("(it did not)") : fmt::format("{}", again.error()));

    otpp::stop(db); // on_terminate would run here; the name is released
    const bool gone = !kv::find();
    fmt::print("stopped; whereis(\"{}\") finds nothing: {}\n", kv::registered_name, gone);

    ok = ok && !p1 && p2 == "red" && banana == "yellow" && !durian && erased && !erased_again &&
         n == 2 && st.name == "kv" && !again.ok() &&
         again.error() == otpp::exit_reason::user("already_started") && gone;
  }
  rt.run();
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
