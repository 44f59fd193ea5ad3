#include <otpp/core/pid.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <compare>
#include <cstddef>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

using otpp_test::exit_of;

} // namespace

TEST_CASE("a pid formats as <0.N.0> with its id", "[core][pid]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid p = rt.spawn([] { tp::receive<int>(); });
  CHECK(p.id() != 0);
  CHECK(fmt::format("{}", p) == fmt::format("<0.{}.0>", p.id()));
  CHECK(fmt::format("{}", sp.self()) == fmt::format("<0.{}.0>", sp.self().id()));
  CHECK(fmt::format("{}", otpp::pid()) == "<0.0.0>");
  otpp::send(p, 0);
}

TEST_CASE("pids and refs honour width, fill and alignment when formatted", "[core][pid]") {
  CHECK(fmt::format("[{:>9}]", otpp::pid()) == "[  <0.0.0>]");
  CHECK(fmt::format("[{:<9}]", otpp::pid()) == "[<0.0.0>  ]");
  CHECK(fmt::format("[{:*^9}]", otpp::pid()) == "[*<0.0.0>*]");
  CHECK(fmt::format("[{:>9}]", otpp::ref()) == "[#Ref<0.0>]");
  CHECK(fmt::format("[{:>10}]", otpp::ref()) == "[ #Ref<0.0>]");
}

TEST_CASE("pids compare equal exactly when they name the same process", "[core][pid]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  otpp::pid a = rt.spawn([me] {
    otpp::send(me, tp::self());
    tp::receive<int>();
  });
  otpp::pid b = rt.spawn([] { tp::receive<int>(); });
  otpp::pid a_self = otpp_test::expect<otpp::pid>();
  otpp::pid a_copy = a;
  CHECK(a == a_self);
  CHECK(a == a_copy);
  CHECK(a.id() == a_self.id());
  CHECK(a != b);
  CHECK(a != sp.self());
  CHECK(std::hash<otpp::pid>()(a) == std::hash<otpp::pid>()(a_self));
  // A strict total order, usable as a key.
  CHECK(((a < b) != (b < a)));
  CHECK_FALSE(a < a_self);
  CHECK((a <=> a_self) == std::strong_ordering::equal);
  std::set<otpp::pid> ordered{a, b, a_self, sp.self(), a_copy};
  std::unordered_set<otpp::pid> hashed{a, b, a_self, sp.self(), a_copy};
  CHECK(ordered.size() == 3);
  CHECK(hashed.size() == 3);
  CHECK(hashed.count(a_self) == 1);
  otpp::send(a, 0);
  otpp::send(b, 0);
}

TEST_CASE("the null pid names no process and is harmless to use", "[core][pid]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid none;
  CHECK_FALSE(none);
  CHECK(none.id() == 0);
  CHECK(none == otpp::pid());
  CHECK(none != sp.self());
  CHECK(static_cast<bool>(sp.self()));
  otpp::send(none, 1); // a no-op
  otpp::process_info i = otpp::info(none);
  CHECK(i.status == otpp::process_status::exited);
  CHECK_FALSE(i.exit_reason.has_value());
  CHECK(otpp_test::nothing<int>(10ms));
}

TEST_CASE("a pid stays usable after its process ended", "[core][pid]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid p;
  CHECK(exit_of([] { tp::exit(otpp::exit_reason::user("done")); }, {}, &p) ==
        otpp::exit_reason::user("done"));
  std::string before = fmt::format("{}", p);
  otpp::pid copy = p;
  otpp::send(p, 1); // a silent no-op
  otpp::process_info i = otpp::info(p);
  CHECK(i.self == p);
  CHECK(i.status == otpp::process_status::exited);
  REQUIRE(i.exit_reason.has_value());
  CHECK(*i.exit_reason == otpp::exit_reason::user("done"));
  CHECK(i.mailbox_length == 0);
  CHECK(fmt::format("{}", p) == before);
  CHECK(copy == p);
  // Monitoring it now reports noproc at once.
  otpp::ref m = otpp::monitor(p);
  auto d = otpp_test::expect<otpp::down>();
  CHECK(d.monitor == m);
  CHECK(d.process == p);
  CHECK(d.reason == otpp::exit_reason::noproc());
}

TEST_CASE("make_ref never returns the same reference twice", "[core][pid]") {
  const unsigned n = GENERATE(1u, 3u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  constexpr int per_source = 100000; // more than one per-thread block of ids
  otpp::pid me = sp.self();
  auto make = [] {
    std::vector<otpp::ref> v;
    v.reserve(per_source);
    for (int i = 0; i < per_source; ++i)
      v.push_back(otpp::make_ref());
    return v;
  };
  for (int i = 0; i < 4; ++i)
    rt.spawn([me, make] { otpp::send(me, make()); });
  std::vector<std::vector<otpp::ref>> from_threads(2);
  std::vector<std::thread> threads;
  for (auto& out : from_threads)
    threads.emplace_back([&out, make] { out = make(); });
  std::vector<otpp::ref> all = make();
  for (auto& t : threads)
    t.join();
  for (auto& v : from_threads)
    all.insert(all.end(), v.begin(), v.end());
  for (int i = 0; i < 4; ++i) {
    auto v = otpp_test::expect<std::vector<otpp::ref>>();
    all.insert(all.end(), v.begin(), v.end());
  }
  REQUIRE(all.size() == static_cast<std::size_t>(7 * per_source));
  CHECK(std::none_of(all.begin(), all.end(), [](otpp::ref r) { return !r; }));
  std::unordered_set<otpp::ref> unique(all.begin(), all.end());
  CHECK(unique.size() == all.size());
}

TEST_CASE("a ref formats as #Ref<0.N>, and the empty ref is false", "[core][pid]") {
  otpp::ref r = otpp::make_ref();
  CHECK(r);
  CHECK(fmt::format("{}", r) == fmt::format("#Ref<0.{}>", r.value()));
  CHECK(fmt::format("{}", otpp::ref(42)) == "#Ref<0.42>");
  otpp::ref none;
  CHECK_FALSE(none);
  CHECK(none.value() == 0);
  CHECK(otpp::ref(7) == otpp::ref(7));
  CHECK(otpp::ref(7) != otpp::ref(8));
  CHECK(otpp::ref(7) < otpp::ref(8));
  CHECK(std::hash<otpp::ref>()(otpp::ref(7)) == std::hash<otpp::ref>()(otpp::ref(7)));
  CHECK(r != otpp::make_ref());
}

} // namespace OTPP_TEST_FILE
