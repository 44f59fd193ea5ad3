#include <otpp/behaviour/supervisor_error.hpp>

#include <otpp/behaviour/server.hpp>
#include <otpp/behaviour/supervision_tree.hpp>
#include <otpp/behaviour/supervisor.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <any>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::exit_reason;
using otpp::supervisor_errc;

namespace {

using otpp_test::quiet;
using otpp_test::report_guard;

constexpr std::array<supervisor_errc, 8> all_codes{
    supervisor_errc::already_present, supervisor_errc::already_started,
    supervisor_errc::not_found,       supervisor_errc::running,
    supervisor_errc::restarting,      supervisor_errc::on_simple_one_for_one,
    supervisor_errc::wrong_strategy,  supervisor_errc::bad_child_spec};

// A worker child: a server that does nothing.
otpp::child_spec idle(std::string id, otpp::child_options opts = {}) {
  return otpp::worker(
      std::move(id), [] { return otpp::start_link(otpp::server<int>()); }, opts);
}
// The simple_one_for_one template: idle servers started with an int.
otpp::child_spec idle_template() {
  return otpp::worker("w", [](int k) { return otpp::start_link(otpp::server<int>(), k); });
}

otpp::supervisor_spec spec_of(otpp::supervision_strategy s, std::vector<otpp::child_spec> children,
                              std::string name = {}) {
  return otpp::supervisor_spec{.strategy = s,
                               .intensity = 10,
                               .period = 60s,
                               .children = std::move(children),
                               .name = std::move(name)};
}

// The code of a failed dynamic call (the test fails if it succeeded).
template <class R> std::optional<supervisor_errc> code_of(const otpp::call_result<R>& r) {
  if (r.ok())
    throw std::runtime_error("the supervisor call did not fail");
  return otpp::supervisor_error_of(r.error());
}

otpp::pid child_pid(const otpp::pid& sup, const std::string& id) {
  for (auto& c : otpp::which_children(sup))
    if (c.id == id)
      return c.pid;
  throw std::runtime_error("no child " + id);
}

} // namespace

TEST_CASE("each supervisor_errc formats as its OTP name and survives make_supervisor_error and "
          "supervisor_error_of",
          "[behaviour][supervisor]") {
  const std::vector<std::string> names{"already_present", "already_started", "not_found",
                                       "running",         "restarting",      "simple_one_for_one",
                                       "wrong_strategy",  "bad_child_spec"};
  for (std::size_t i = 0; i < all_codes.size(); ++i) {
    const supervisor_errc e = all_codes[i];
    CHECK(otpp::otp_name(e) == names[i]);
    CHECK(fmt::format("{}", e) == names[i]);
    CHECK(fmt::format("[{:>20}]", e) == fmt::format("[{:>20}]", names[i]));
    exit_reason r = otpp::make_supervisor_error(e);
    CHECK(r.which() == exit_reason::kind::user);
    CHECK(r.detail() == names[i]);
    CHECK(otpp::supervisor_error_of(r) == e);
    exit_reason detailed = otpp::make_supervisor_error(e, "what is wrong");
    CHECK(detailed.detail() == "what is wrong");
    CHECK(otpp::supervisor_error_of(detailed) == e);
  }
  STATIC_REQUIRE(otpp::otp_name(supervisor_errc::running) == "running");
}

TEST_CASE("supervisor_error_of gives nothing for a reason that is not a supervisor error",
          "[behaviour][supervisor]") {
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::normal()));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::noproc()));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::timeout()));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::shutdown("not_found")));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::exception("std::runtime_error", "running")));
  // The text alone does not make one: the payload does.
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::user("not_found")));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::user("already_started")));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::user("already_started", 42)));
  CHECK_FALSE(otpp::supervisor_error_of(exit_reason::user("no_c", std::string("x"))));
  // already_started carries the running child's pid instead of the code.
  OTPP_TEST_RUNTIME({.schedulers = 1});
  CHECK(otpp::supervisor_error_of(exit_reason::user("already_started", tp::self())) ==
        supervisor_errc::already_started);
}

TEST_CASE("each error of the dynamic API maps to its supervisor_errc, and a child's failed start "
          "is not one",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto sup = otpp::start(rt, spec_of(otpp::one_for_one, {idle("a")}));
  const otpp::pid a = child_pid(sup, "a");

  auto started = otpp::start_child(sup, idle("a"));
  CHECK(code_of(started) == supervisor_errc::already_started);
  const auto* holder = std::any_cast<otpp::pid>(&started.error().payload());
  REQUIRE(holder != nullptr);
  CHECK(*holder == a);
  CHECK(code_of(otpp::restart_child(sup, "a")) == supervisor_errc::running);
  CHECK(code_of(otpp::delete_child(sup, "a")) == supervisor_errc::running);
  CHECK(fmt::format("{}", *code_of(otpp::delete_child(sup, "a"))) == "running");
  CHECK(code_of(otpp::terminate_child(sup, "nope")) == supervisor_errc::not_found);
  CHECK(code_of(otpp::restart_child(sup, "nope")) == supervisor_errc::not_found);
  CHECK(code_of(otpp::delete_child(sup, "nope")) == supervisor_errc::not_found);

  REQUIRE(otpp::terminate_child(sup, "a").ok());
  CHECK(code_of(otpp::start_child(sup, idle("a"))) == supervisor_errc::already_present);

  CHECK(code_of(otpp::start_child(sup, idle(""))) == supervisor_errc::bad_child_spec);
  auto bad = otpp::start_child(sup, idle("s", {.significant = true})); // significant + permanent
  CHECK(code_of(bad) == supervisor_errc::bad_child_spec);
  CHECK_THAT(std::string(bad.error().detail()), Catch::Contains("significant"));
  CHECK(code_of(otpp::start_child(sup, 1)) == supervisor_errc::wrong_strategy);

  // A start function's own failure is the child's reason, not a supervisor error.
  auto failed = otpp::start_child(sup, otpp::worker("c", [] {
                                    return otpp::child_start{{}, false, exit_reason::user("no_c")};
                                  }));
  CHECK(failed.error() == exit_reason::user("no_c"));
  CHECK_FALSE(code_of(failed).has_value());

  auto pool = otpp::start(rt, spec_of(otpp::simple_one_for_one, {idle_template()}));
  CHECK(code_of(otpp::restart_child(pool, "w")) == supervisor_errc::on_simple_one_for_one);
  CHECK(code_of(otpp::delete_child(pool, "w")) == supervisor_errc::on_simple_one_for_one);
  CHECK(code_of(otpp::start_child(pool, idle("x"))) == supervisor_errc::wrong_strategy);
  // OTP: by pid only; a live process that is no child is not_found, a pid
  // that has ended is ok (the child it may have been is gone).
  CHECK(code_of(otpp::terminate_child(pool, tp::self())) == supervisor_errc::not_found);
  CHECK(code_of(otpp::terminate_child(pool, "w")) == supervisor_errc::on_simple_one_for_one);
  auto w = otpp::start_child(pool, 1);
  REQUIRE(w.ok());
  otpp::ref wm = otpp::monitor(w.value());
  otpp::kill(w.value());
  otpp_test::down_reason(wm);
  CHECK(otpp::terminate_child(pool, w.value()).ok());
  otpp::pid gone = otpp::spawn([] {});
  otpp_test::wait_exit(gone);
  CHECK(otpp::terminate_child(pool, gone).ok());

  otpp::stop(pool, exit_reason::shutdown());
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("restart_child and delete_child of a child waiting out its restart backoff fail with "
          "restarting",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto spec = spec_of(otpp::one_for_one, {idle("a")});
  spec.backoff = {.initial = 10min, .max = 10min, .factor = 2.0};
  auto sup = otpp::start(rt, spec);
  const otpp::pid a = child_pid(sup, "a");
  // Once its down is here, the supervisor's exit message is ahead of our next call.
  otpp::ref m = otpp::monitor(a);
  otpp::exit(a, exit_reason::user("crash"));
  REQUIRE(otpp_test::down_reason(m) == exit_reason::user("crash"));
  auto info = otpp::which_children(sup).front();
  REQUIRE(info.state == otpp::child_info::status::restarting);
  CHECK(code_of(otpp::restart_child(sup, "a")) == supervisor_errc::restarting);
  CHECK(code_of(otpp::delete_child(sup, "a")) == supervisor_errc::restarting);
  REQUIRE(otpp::terminate_child(sup, "a").ok()); // cancels the restart
  CHECK(otpp::delete_child(sup, "a").ok());
  otpp::stop(sup, exit_reason::shutdown());
}

TEST_CASE("the dynamic API reaches a supervisor by its registered name, and a name nobody holds "
          "fails with noproc naming it",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto sup = otpp::start(rt, spec_of(otpp::one_for_one, {idle("a")}, "sup"));
  auto pool = otpp::start(rt, spec_of(otpp::simple_one_for_one, {idle_template()}, "pool"));
  REQUIRE(otpp::whereis("sup") == sup.pid());
  const auto by_name = otpp::by_name("sup");
  const auto typed = otpp::by_name<otpp::supervisor_ref::definition>("sup");

  auto b = otpp::start_child(by_name, idle("b"));
  REQUIRE(b.ok());
  CHECK(child_pid(sup, "b") == b.value());
  CHECK(otpp::which_children(typed).size() == 2);
  CHECK(otpp::count_children(by_name).active == 2);
  CHECK(code_of(otpp::start_child(typed, idle("b"))) == supervisor_errc::already_started);
  REQUIRE(otpp::terminate_child(by_name, "b").ok());
  CHECK(otpp::count_children(typed).active == 1);
  auto again = otpp::restart_child(typed, "b");
  REQUIRE(again.ok());
  CHECK(again.value() != b.value());
  REQUIRE(otpp::terminate_child(typed, "b").ok());
  CHECK(otpp::delete_child(by_name, "b").ok());
  CHECK(code_of(otpp::delete_child(by_name, "b")) == supervisor_errc::not_found);

  auto w = otpp::start_child(otpp::by_name("pool"), 5);
  REQUIRE(w.ok());
  CHECK(otpp::get_state<int>(w.value()) == 5);
  CHECK(otpp::terminate_child(otpp::by_name("pool"), w.value()).ok());
  CHECK(otpp::which_children(otpp::by_name("pool")).empty());

  const auto missing = otpp::by_name("nosup");
  try {
    (void)otpp::start_child(missing, idle("x"));
    FAIL("start_child did not throw");
  } catch (const otpp::call_error& e) {
    CHECK(e.reason() == exit_reason::noproc());
    CHECK_THAT(std::string(e.what()), Catch::Contains("\"nosup\""));
  }
  CHECK_THROWS_AS(otpp::which_children(missing), otpp::call_error);
  CHECK_THROWS_AS(otpp::terminate_child(missing, "a"), otpp::call_error);

  otpp::stop(otpp::by_name("pool"), exit_reason::shutdown());
  otpp::stop(by_name, exit_reason::shutdown());
  CHECK_FALSE(otpp::whereis("sup"));
}

TEST_CASE("supervision_tree's root id is the one given, else the spec's name, else root",
          "[behaviour][supervisor]") {
  const unsigned n = GENERATE(1u, 3u);
  report_guard g(quiet());
  OTPP_TEST_RUNTIME({.schedulers = n});
  auto inner = spec_of(otpp::one_for_one, {idle("leaf")}, "inner_sup");
  auto top = otpp::start(
      rt, spec_of(otpp::one_for_all, {idle("a"), otpp::supervisor("inner", inner)}, "top"));
  auto anonymous = otpp::start(rt, spec_of(otpp::one_for_one, {idle("a")}));

  otpp::tree_node t = otpp::supervision_tree(top);
  CHECK(t.id == "top");
  CHECK(t.pid == top.pid());
  CHECK(t.strategy == otpp::one_for_all);
  REQUIRE(t.children.size() == 2);
  CHECK(t.children[0].id == "a");
  CHECK(t.children[1].id == "inner"); // a child's node keeps its child id
  REQUIRE(t.children[1].children.size() == 1);
  CHECK(t.children[1].children[0].id == "leaf");
  CHECK_THAT(otpp::to_json(t), Catch::StartsWith("{\"id\": \"top\""));

  otpp::tree_node by_name = otpp::supervision_tree(otpp::by_name("top"));
  CHECK(by_name.id == "top");
  CHECK(by_name.pid == top.pid());
  CHECK(otpp::supervision_tree(otpp::by_name("inner_sup")).id == "inner_sup");
  CHECK(otpp::supervision_tree(top, "custom").id == "custom");
  CHECK(otpp::supervision_tree(anonymous).id == "root");
  CHECK(otpp::supervision_tree(anonymous, "named").id == "named");

  otpp::stop(anonymous, exit_reason::shutdown());
  otpp::stop(top, exit_reason::shutdown());
}

} // namespace OTPP_TEST_FILE
