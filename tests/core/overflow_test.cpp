// Death tests: a stack overflow stops the program with a message naming
// the process, whether its stack has a guard page or only a canary. Each
// scenario runs in a child process (fork) whose stderr the test reads.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "death_test.hpp"
#include "otpp_test.hpp"

#include <otpp/core/process.hpp>
#include <otpp/core/registry.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

namespace OTPP_TEST_FILE {

// The sanitizers watch stacks and SIGSEGV themselves, and TSan does not
// follow a fork of this kind: these run in the plain builds.
#if !defined(OTPP_DETAIL_ASAN) && !defined(OTPP_DETAIL_TSAN)

namespace {

using otpp_test::big_frame;
using otpp_test::death;
using otpp_test::in_child;

// Recurse `n` frames deep, each with a few hundred bytes of live locals.
[[gnu::noinline]] int recurse(int n) {
  volatile char pad[300];
  pad[0] = static_cast<char>(n);
  if (n == 0)
    return pad[0];
  return recurse(n - 1) + pad[0];
}

void overflow_in_process(otpp::runtime_options opts, bool big) {
  otpp::runtime rt(opts);
  // The overflowing process is spawned by a neighbour that already runs, so
  // its stack is the next one up in the slab: a frame that runs past its
  // end lands in the neighbour's stack (writable memory), not off the slab.
  rt.spawn(
      [big] {
        otpp::spawn(
            [big] {
              otpp::register_name("deep", otpp::this_process::self());
              otpp::this_process::set_label("deep worker");
              if (big) {
                (void)big_frame(64 * 1024);
                otpp::this_process::yield(); // the canary is checked at this switch
              } else {
                (void)recurse(1 << 20);
              }
            },
            {.stack_size = 64 * 1024});
        otpp::this_process::receive<int>(); // never sent
      },
      {.stack_size = 64 * 1024});
  rt.run();
}

} // namespace

TEST_CASE("a recursion past the stack's end hits its guard page and stops the program with a "
          "message naming the process, its stack size and what to change",
          "[core][overflow]") {
  death d = in_child([] { overflow_in_process({.schedulers = 1}, false); });
  CHECK(d.signal == SIGABRT);
  CHECK_THAT(d.err, Catch::Contains("otpp: stack overflow in process <0."));
  CHECK_THAT(d.err, Catch::Contains("(registered as \"deep\") [deep worker]"));
  CHECK_THAT(d.err, Catch::Contains("guard page"));
  CHECK_THAT(d.err, Catch::Contains("its stack is 64 KiB"));
  CHECK_THAT(d.err, Catch::Contains("spawn_options::stack_size"));
}

TEST_CASE("a large frame on a stack without a guard page breaks its canary, found at the next "
          "switch with the same message",
          "[core][overflow]") {
  death d = in_child([] { overflow_in_process({.schedulers = 1, .guard_pages = false}, true); });
  CHECK(d.signal == SIGABRT);
  CHECK_THAT(d.err, Catch::Contains("otpp: stack overflow in process <0."));
  CHECK_THAT(d.err, Catch::Contains("canary"));
}

TEST_CASE("a by-value object far larger than the stack stops the program with the same message",
          "[core][overflow]") {
  death d = in_child([] {
    otpp::runtime rt({.schedulers = 1});
    rt.spawn([] { (void)big_frame(64u << 20); }, {.stack_size = 64 * 1024});
    rt.run();
  });
  CHECK(d.signal == SIGABRT);
  CHECK_THAT(d.err, Catch::Contains("otpp: stack overflow in process <0."));
  CHECK_THAT(d.err, Catch::Contains("larger than the stack"));
}

TEST_CASE("a process within its stack runs to its end, guard page or not", "[core][overflow]") {
  for (bool guard : {true, false}) {
    death d = in_child([guard] {
      otpp::runtime rt({.schedulers = 1, .guard_pages = guard});
      rt.spawn([] { (void)recurse(50); }, {.stack_size = 64 * 1024});
      rt.run();
    });
    CHECK(d.signal == 0);
    CHECK(d.status == 0);
    CHECK(d.err.empty());
  }
}

TEST_CASE("a segfault that is no stack overflow still crashes as a segfault", "[core][overflow]") {
  death d = in_child([] {
    otpp::runtime rt({.schedulers = 1});
    rt.spawn([] {
      volatile int* nowhere = nullptr;
      *nowhere = 1;
    });
    rt.run();
  });
  CHECK(d.signal == SIGSEGV);
  CHECK_THAT(d.err, !Catch::Contains("stack overflow"));
}

#endif

} // namespace OTPP_TEST_FILE
