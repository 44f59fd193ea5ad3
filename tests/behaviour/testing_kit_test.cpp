#include <otpp/testing.hpp>

#include "otpp_test.hpp"

#include <otpp/behaviour/supervisor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace tk = otpp::testing;
using otpp::exit_reason;

namespace {
struct hello {
  int n;
};
struct other {};
struct go {};
} // namespace

TEST_CASE("the test kit prints pids, refs, exit reasons, statuses and trees as otpp does",
          "[behaviour][testing]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::pid me = tp::self();
  CHECK(Catch::Detail::stringify(me) == fmt::format("{}", me));
  CHECK(Catch::Detail::stringify(me).rfind("<0.", 0) == 0);
  otpp::ref r = otpp::make_ref();
  CHECK(Catch::Detail::stringify(r) == fmt::format("{}", r));
  CHECK(Catch::Detail::stringify(exit_reason::user("boom")) ==
        exit_reason::user("boom").to_string());
  CHECK(Catch::Detail::stringify(otpp::process_status::waiting) == "waiting");
  otpp::tree_node t;
  t.id = "app";
  t.from_spec = true;
  t.strategy = otpp::one_for_one;
  CHECK(Catch::Detail::stringify(t) == "\napp supervisor one_for_one\n");
  otpp::tree_change c{otpp::tree_change::kind::added, "app/x", otpp::child_type::worker, {}};
  CHECK(Catch::Detail::stringify(c) == "+ app/x (worker)");
}

TEST_CASE("expect_message returns the message of its type and leaves the others",
          "[behaviour][testing]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  otpp::pid me = tp::self();
  otpp::spawn([me] {
    otpp::send(me, other{});
    otpp::send(me, hello{7});
  });
  CHECK(tk::expect_message<hello>().n == 7);
  CHECK(tp::mailbox_length() == 1); // the other one stays
  tk::expect_message<other>(0ms);
}

TEST_CASE("expect_message fails naming the type it waited for", "[behaviour][testing]") {
  OTPP_TEST_RUNTIME({.schedulers = 1});
  otpp::send(tp::self(), other{});
  try {
    tk::expect_message<hello>(20ms);
    FAIL("no exception");
  } catch (const tk::expectation_failed& e) {
    std::string what = e.what();
    CHECK(what.find("hello") != std::string::npos);
    CHECK(what.find("within 20 ms") != std::string::npos);
    CHECK(what.find("1 other messages") != std::string::npos);
  }
}

TEST_CASE("expect_no_message passes on silence and fails naming what came",
          "[behaviour][testing]") {
  OTPP_TEST_RUNTIME({.schedulers = 2});
  tk::expect_no_message(20ms);
  tk::expect_no_message<hello>(20ms);
  otpp::pid me = tp::self();
  otpp::spawn([me] { otpp::send(me, other{}); });
  tk::expect_no_message<hello>(50ms); // an `other` is not a hello
  try {
    tk::expect_no_message(1s);
    FAIL("no exception");
  } catch (const tk::expectation_failed& e) {
    CHECK(std::string(e.what()).find("other") != std::string::npos);
  }
  CHECK(tp::mailbox_length() == 0); // the failure took it (and named it)
  otpp::send(me, hello{1});
  CHECK_THROWS_AS(tk::expect_no_message<hello>(1s), tk::expectation_failed);
}

TEST_CASE("wait_until_waiting returns once a process waits, and expect_exit gives its reason",
          "[behaviour][testing]") {
  const unsigned n = GENERATE(1u, 2u);
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp_test::report_guard silent(otpp_test::quiet()); // the crash below is on purpose
  otpp::pid p = otpp::spawn([] {
    tp::receive<go>();
    throw std::runtime_error("after go");
  });
  tk::wait_until_waiting(p);
  CHECK(otpp::info(p).status == otpp::process_status::waiting);
  // `go` is sent only once this process waits in expect_exit: its monitor
  // signal is then in p's inbox before `go`, and p, waiting, takes it
  // first, so the down carries p's own reason, never noproc.
  otpp::pid me = tp::self();
  otpp::spawn([me, p] {
    tk::wait_until_waiting(me);
    otpp::send(p, go{});
  });
  exit_reason r = tk::expect_exit(p);
  INFO(r.to_string());
  CHECK(r.to_string().find("after go") != std::string::npos);
  CHECK_THROWS_WITH(tk::wait_until_waiting(p), Catch::Contains("ended instead of waiting"));
  otpp::pid idle = otpp::spawn([] { otpp_test::wait_forever(); });
  CHECK_THROWS_WITH(tk::expect_exit(idle, 20ms), Catch::Contains("did not end within 20 ms"));
  CHECK(tp::mailbox_length() == 0); // the monitor's down does not come later
  // Killed only once this process waits in expect_exit, as above.
  otpp::spawn([me, idle] {
    tk::wait_until_waiting(me);
    otpp::exit(idle, exit_reason::kill());
  });
  CHECK(tk::expect_exit(idle) == exit_reason::killed());
}

} // namespace OTPP_TEST_FILE
