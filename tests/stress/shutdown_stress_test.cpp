// Stress: runtime shutdown with many processes, while they work, and while they spawn.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;

namespace {

// Sanitizer builds use fewer processes. TSan gives each fiber a thread
// state and trace of its own: it runs out of memory far sooner.
#if defined(OTPP_DETAIL_TSAN)
constexpr std::size_t many_waiting = 20000;
constexpr std::size_t growth_cap = 5000;
constexpr int lifetimes = 50;
#elif defined(OTPP_DETAIL_ASAN)
constexpr std::size_t many_waiting = 50000;
constexpr std::size_t growth_cap = 20000;
constexpr int lifetimes = 50;
#else
constexpr std::size_t many_waiting = 1000000;
constexpr std::size_t growth_cap = 200000;
constexpr int lifetimes = 50;
#endif

// Aborts the test program if its scope lasts longer than `limit`: a hang in
// run() or ~runtime() must fail the test, not block it forever.
class watchdog {
public:
  explicit watchdog(const char* what, std::chrono::seconds limit = 120s)
      : thread_([this, what, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s did not finish in %llds\n", what,
                         static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_; // last: starts once the rest exists
};

// Counts its construction and destruction: a process's stack was unwound
// iff its `counted` local was destroyed.
struct counters {
  std::atomic<std::size_t> made{0};
  std::atomic<std::size_t> unwound{0};
};
struct counted {
  counters& c;
  explicit counted(counters& cs) : c(cs) { ++c.made; }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  ~counted() { ++c.unwound; }
};

// Never sent: a receive of it waits until an exit signal ends the process.
struct never {};
void wait_forever() {
  otpp::this_process::receive([](never) {});
}

struct all_started {};

// A message owning heap memory, counting live instances (leaks show as a
// non-zero count, double frees under ASan).
std::atomic<long> live_balls{0};
struct ball {
  otpp::pid from;
  std::string text;
  ball(otpp::pid f, std::string t) : from(std::move(f)), text(std::move(t)) { ++live_balls; }
  ball(ball&& o) noexcept : from(std::move(o.from)), text(std::move(o.text)) { ++live_balls; }
  ball& operator=(ball&&) = delete;
  ~ball() { --live_balls; }
};

} // namespace

TEST_CASE("shutdown ends a huge number of waiting processes and unwinds every stack",
          "[stress][shutdown]") {
#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
  const unsigned n = GENERATE(2u, 3u);
#else
  const unsigned n = 2; // a million processes take seconds: one configuration
#endif
  counters c;
  std::atomic<std::size_t> started{0};
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();
  // One spawner per scheduler fills its own scheduler.
  std::vector<otpp::ref> spawners;
  for (unsigned s = 0; s < n; ++s) {
    spawners.push_back(otpp::spawn_monitor(
                           [&, me, s] {
                             std::size_t share = many_waiting / n + (s < many_waiting % n ? 1 : 0);
                             for (std::size_t i = 0; i < share; ++i)
                               otpp::spawn(
                                   [&, me] {
                                     counted local(c);
                                     if (++started == many_waiting)
                                       otpp::send(me, all_started{});
                                     wait_forever();
                                   },
                                   {.scheduler = s});
                           },
                           {.scheduler = s})
                           .monitor);
  }
  otpp_test::expect<all_started>(std::chrono::minutes(5));
  for (std::size_t k = 0; k < spawners.size(); ++k)
    CHECK(otpp_test::expect<otpp::down>().reason.is_normal());
  // A spawner's down comes just before it leaves the count (as an exiting
  // Erlang process still shows in processes()).
  CHECK(rt.process_count() >= many_waiting);
  CHECK(rt.process_count() <= many_waiting + n);
  {
    watchdog w("shutdown of the waiting processes");
    rt.shutdown();
    CHECK(rt.run() == 0);
  }
  CHECK(rt.process_count() == 0);
  CHECK(c.made.load() == many_waiting);
  CHECK(c.unwound.load() == many_waiting);
}

TEST_CASE(
    "runtimes created and destroyed with processes in flight unwind them and free every message",
    "[stress][shutdown]") {
  for (int life = 0; life < lifetimes; ++life) {
    counters c;
    {
      watchdog w("a runtime's life");
      otpp::runtime rt({.schedulers = 2u + static_cast<unsigned>(life % 2)});
      // Ping-pong pairs bouncing heap-owning messages as fast as they can.
      for (int pair = 0; pair < 16; ++pair) {
        otpp::pid pong = rt.spawn([&c] {
          counted local(c);
          for (;;)
            otpp::this_process::receive([](ball& b) {
              otpp::send(b.from, ball(otpp::this_process::self(), std::move(b.text)));
            });
        });
        rt.spawn([&c, pong] {
          counted local(c);
          otpp::send(pong, ball(otpp::this_process::self(), std::string(64, 'x')));
          for (;;)
            otpp::this_process::receive([](ball& b) {
              otpp::send(b.from, ball(otpp::this_process::self(), std::move(b.text)));
            });
        });
      }
      // A chain passing a ball down, each link spawning the next.
      rt.spawn([&c] {
        struct link_in_chain {
          counters* cs;
          int depth;
          void operator()() const {
            counted local(*cs);
            if (depth < 200) {
              otpp::pid next = otpp::spawn(link_in_chain{cs, depth + 1});
              otpp::send(next, ball(otpp::this_process::self(), std::string(48, 'c')));
            }
            otpp::this_process::receive([](ball&) {}, otpp::after(1h, [] {}));
            wait_forever();
          }
        };
        link_in_chain{&c, 0}();
      });
      // Timers still pending when the runtime goes away.
      rt.spawn([&c] {
        counted local(c);
        for (int k = 0; k < 20; ++k)
          otpp::send_after(otpp::this_process::self(), 1h, ball(otpp::pid(), std::string(40, 't')));
        wait_forever();
      });
      // Half the lives end at once (some processes never ran), half a little later.
      if (life % 2 == 1)
        std::this_thread::sleep_for(2ms);
      if (life % 4 == 3)
        rt.shutdown();
    } // ~runtime: shutdown, wait, join
    INFO("life " << life);
    REQUIRE(c.made.load() == c.unwound.load());
    REQUIRE(live_balls.load() == 0);
  }
}

TEST_CASE("shutdown while processes are spawning more processes ends them all",
          "[stress][shutdown]") {
  const unsigned n = GENERATE(1u, 2u, 3u);
  struct growth {
    counters c;
    std::atomic<std::size_t> spawned{0};
    std::atomic<bool> told{false};
    otpp::pid report_to;
    bool shutdown_from_inside = false;
  };
  // Each process spawns two more (a tree), up to growth_cap in all; when a
  // tenth of them exist the shutdown comes.
  struct grower {
    growth* g;
    bool link;
    void operator()() const {
      counted local(g->c);
      for (int k = 0; k < 2; ++k) {
        if (g->spawned.fetch_add(1) >= growth_cap)
          break;
        if (link)
          otpp::spawn_link(grower{g, !link});
        else
          otpp::spawn(grower{g, !link});
      }
      if (g->spawned.load() >= growth_cap / 10 && !g->told.exchange(true)) {
        if (g->shutdown_from_inside)
          otpp::this_process::get_runtime().shutdown();
        else
          otpp::send(g->report_to, all_started{});
      }
      wait_forever();
    }
  };
  // A process spawning in a loop that never receives: its yields let the
  // shutdown in.
  struct loop_spawner {
    growth* g;
    void operator()() const {
      counted local(g->c);
      for (std::size_t k = 0; g->spawned.fetch_add(1) < growth_cap; ++k) {
        otpp::spawn([cs = &g->c] {
          counted inner(*cs);
          wait_forever();
        });
        if (k % 32 == 31)
          otpp::this_process::yield();
      }
      wait_forever();
    }
  };

  growth g;
  OTPP_TEST_RUNTIME({.schedulers = n});
  g.report_to = sp.self();

  SECTION("the shutdown comes from outside") {
    rt.spawn(grower{&g, false});
    rt.spawn(loop_spawner{&g});
    otpp_test::expect<all_started>();
    rt.shutdown();
  }
  SECTION("the shutdown comes from one of the spawning processes") {
    g.shutdown_from_inside = true;
    rt.spawn(grower{&g, true});
    rt.spawn(loop_spawner{&g});
  }
  {
    watchdog w("shutdown of the spawning processes");
    CHECK(rt.run() == 0);
  }
  CHECK(rt.process_count() == 0);
  CHECK(g.c.made.load() == g.c.unwound.load());
  CHECK(g.c.made.load() > 0);
}

} // namespace OTPP_TEST_FILE
