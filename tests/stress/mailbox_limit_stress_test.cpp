// Bounded mailboxes under many senders on two schedulers: every message is
// received or counted as dropped, the downs (control lane) always arrive,
// and a selective receive stays correct while drop_oldest drops messages
// it has passed over.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/runtime.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
using otpp::overflow_policy;

namespace {
struct tick {};
struct tally {
  std::uint64_t ints = 0;
  std::uint64_t ticks = 0;
  int downs = 0;
};
constexpr int senders = 3;
constexpr int ints_each = 3000;
constexpr int ticks_each = ints_each / 100;
} // namespace

TEST_CASE("bounded mailboxes under many senders: every message received or counted dropped",
          "[stress][mailbox_limit]") {
  const auto policy =
      GENERATE(overflow_policy::drop_new, overflow_policy::drop_oldest, overflow_policy::reject);
  otpp_test::report_guard quiet(otpp_test::quiet());
  for (int round = 0; round < 10; ++round) {
    OTPP_TEST_RUNTIME({.schedulers = 2});
    auto refused = std::make_shared<std::atomic<std::uint64_t>>(0);
    auto receiver = rt.spawn(
        [refused, test = tp::self()] {
          tally t;
          for (int i = 0; i < senders; ++i) {
            otpp::spawn_monitor(
                [me = tp::self(), refused] {
                  for (int k = 0; k < ints_each; ++k) {
                    if (otpp::send(me, k) == otpp::send_result::refused)
                      refused->fetch_add(1);
                    if (k % 100 == 0 && otpp::send(me, tick{}) == otpp::send_result::refused)
                      refused->fetch_add(1);
                  }
                },
                {.scheduler = static_cast<unsigned>(i % 2)});
          }
          // Selective receives pass over the ints while the mailbox drops.
          while (t.downs < senders) {
            tp::receive([&](tick&) { ++t.ticks; }, [&](otpp::down&) { ++t.downs; });
            for (int k = 0; k < 10; ++k)
              if (tp::receive_for<int>(0ms))
                ++t.ints;
          }
          while (tp::receive([&](int&) { return ++t.ints, true; },
                             [&](tick&) { return ++t.ticks, true; },
                             otpp::after(0ms, [] { return false; }))) {
          }
          otpp::send(test, t);
        },
        {.mailbox_limit = 16, .on_overflow = policy});
    auto t = otpp_test::expect<tally>();
    const std::uint64_t total = senders * (ints_each + ticks_each);
    const auto info = otpp::info(receiver);
    CHECK(t.downs == senders);
    CHECK(t.ints + t.ticks + info.dropped == total);
    if (policy == overflow_policy::reject)
      CHECK(refused->load() == info.dropped);
    else
      CHECK(refused->load() == 0);
  }
}

} // namespace OTPP_TEST_FILE
