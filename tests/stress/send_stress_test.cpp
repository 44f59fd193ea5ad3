// Stress: concurrent sends from threads and processes, fan-in, selective receive under arrival.
// Distributed under the Boost Software License, Version 1.0.
#include <otpp/core/process.hpp>

#include "otpp_test.hpp"

#include <otpp/core/monitor.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/runtime.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;

namespace {

struct seq_msg {
  std::uint32_t sender;
  std::uint32_t seq;
};
// Stays in the mailbox while the receiver selects seq_msgs.
struct noise_msg {
  std::uint32_t sender;
  std::uint32_t seq;
};
struct finish {};

// What a receiver saw. Every message arrived exactly once and in per-sender
// order iff received == expected, out_of_order == 0 and extra == 0.
struct tally {
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t extra = 0;
  std::uint64_t noise = 0;
  std::uint64_t noise_out_of_order = 0;
  bool timed_out = false;
};

// Checks that `seq` is the next one of `sender`, then advances.
bool in_order(std::vector<std::uint32_t>& next, std::uint32_t sender, std::uint32_t seq) {
  if (sender >= next.size())
    return false;
  bool ok = next[sender] == seq;
  next[sender] = seq + 1;
  return ok;
}

// Process body: take senders * per_sender seq_msgs checking per-sender order;
// after `finish` (sent once every sender is done) nothing more may be there.
auto counting_receiver(otpp::pid report_to, std::uint32_t senders, std::uint32_t per_sender) {
  return [=] {
    std::vector<std::uint32_t> next(senders, 0);
    tally t;
    const std::uint64_t total = std::uint64_t{senders} * per_sender;
    while (t.received < total) {
      auto m = otpp::this_process::receive_for<seq_msg>(otpp_test::patience);
      if (!m) {
        t.timed_out = true;
        break;
      }
      ++t.received;
      if (!in_order(next, m->sender, m->seq))
        ++t.out_of_order;
    }
    if (!otpp::this_process::receive_for<finish>(otpp_test::patience))
      t.timed_out = true;
    while (otpp::this_process::receive_for<seq_msg>(0ms))
      ++t.extra;
    otpp::send(report_to, t);
  };
}

// The reason in the down of monitor `m`; `timeout` if none came in time.
otpp::exit_reason wait_down(otpp::ref m) {
  return otpp::this_process::receive(
      otpp::when([m](const otpp::down& d) { return d.monitor == m; },
                 [](otpp::down& d) { return d.reason; }),
      otpp::after(otpp_test::patience, [] { return otpp::exit_reason::timeout(); }));
}

void check(const tally& t, std::uint64_t expected) {
  CHECK_FALSE(t.timed_out);
  CHECK(t.received == expected);
  CHECK(t.out_of_order == 0);
  CHECK(t.extra == 0);
}

} // namespace

TEST_CASE("sends from many OS threads each arrive exactly once and in per-thread order",
          "[stress][send]") {
  const unsigned n = GENERATE(1u, 2u);
  static constexpr std::uint32_t threads = 8;
  static constexpr std::uint32_t per_thread = 20000;
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::spawned_monitor rcv =
      otpp::spawn_monitor(counting_receiver(sp.self(), threads, per_thread));
  const otpp::pid receiver = rcv.pid;
  const otpp::ref rm = rcv.monitor;

  std::latch start(threads);
  std::vector<std::thread> senders;
  for (std::uint32_t t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      // Half the threads send as scoped processes (they count reductions),
      // half as plain threads.
      std::unique_ptr<otpp::scoped_process> as_process;
      if (t % 2 == 0)
        as_process = std::make_unique<otpp::scoped_process>(rt);
      start.arrive_and_wait();
      for (std::uint32_t i = 0; i < per_thread; ++i)
        otpp::send(receiver, seq_msg{t, i});
    });
  }
  for (auto& s : senders)
    s.join();
  otpp::send(receiver, finish{});
  check(otpp_test::expect<tally>(), std::uint64_t{threads} * per_thread);
  CHECK(wait_down(rm).is_normal());
}

TEST_CASE("sends from many processes each arrive exactly once and in per-sender order",
          "[stress][send]") {
  const unsigned n = GENERATE(1u, 3u);
  static constexpr std::uint32_t senders = 64;
  static constexpr std::uint32_t per_sender = 2000;
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::spawned_monitor rcv =
      otpp::spawn_monitor(counting_receiver(sp.self(), senders, per_sender));
  const otpp::pid receiver = rcv.pid;
  const otpp::ref rm = rcv.monitor;

  // Senders wait for a go, so they all start together.
  struct go {};
  std::vector<otpp::pid> pids;
  std::vector<otpp::ref> monitors;
  for (std::uint32_t s = 0; s < senders; ++s) {
    otpp::spawned_monitor sm = otpp::spawn_monitor([receiver, s] {
      otpp::this_process::receive([](go) {});
      for (std::uint32_t i = 0; i < per_sender; ++i)
        otpp::send(receiver, seq_msg{s, i});
    });
    pids.push_back(sm.pid);
    monitors.push_back(sm.monitor);
  }
  for (auto& p : pids)
    otpp::send(p, go{});
  for (auto& m : monitors)
    CHECK(wait_down(m).is_normal());
  otpp::send(receiver, finish{});
  check(otpp_test::expect<tally>(), std::uint64_t{senders} * per_sender);
  CHECK(wait_down(rm).is_normal());
}

TEST_CASE("fan-in of 1000 producers x 100 messages loses, duplicates and reorders nothing",
          "[stress][send]") {
  const unsigned n = GENERATE(2u, 3u);
  static constexpr std::uint32_t producers = 1000;
  static constexpr std::uint32_t per_producer = 100;
  OTPP_TEST_RUNTIME({.schedulers = n});
  const otpp::spawned_monitor rcv =
      otpp::spawn_monitor(counting_receiver(sp.self(), producers, per_producer), {.scheduler = 0});
  const otpp::pid receiver = rcv.pid;
  const otpp::ref rm = rcv.monitor;

  // A spawner process starts the producers, so spawning competes with sending.
  otpp::pid me = sp.self();
  rt.spawn([me, receiver] {
    std::vector<otpp::ref> monitors;
    for (std::uint32_t s = 0; s < producers; ++s)
      monitors.push_back(otpp::spawn_monitor([receiver, s] {
                           for (std::uint32_t i = 0; i < per_producer; ++i)
                             otpp::send(receiver, seq_msg{s, i});
                         }).monitor);
    std::uint32_t abnormal = 0;
    for (std::uint32_t s = 0; s < producers; ++s)
      if (!otpp_test::expect<otpp::down>().reason.is_normal())
        ++abnormal;
    otpp::send(receiver, finish{});
    otpp::send(me, abnormal);
  });
  CHECK(otpp_test::expect<std::uint32_t>() == 0);
  check(otpp_test::expect<tally>(), std::uint64_t{producers} * per_producer);
  CHECK(wait_down(rm).is_normal());
}

TEST_CASE("selective receive picks each sender's messages in order while others keep arriving",
          "[stress][send][receive]") {
  const unsigned n = GENERATE(1u, 3u);
  static constexpr std::uint32_t senders = 4;
  static constexpr std::uint32_t per_sender = 3000;
  static constexpr std::uint32_t noise_every = 64;
  OTPP_TEST_RUNTIME({.schedulers = n});
  otpp::pid me = sp.self();

  const otpp::spawned_monitor rcv = otpp::spawn_monitor([me] {
    std::vector<std::uint32_t> next(senders, 0);
    tally t;
    // A fixed pseudo-random order of wanted senders: the receiver keeps
    // waiting for one sender while the others' messages pile up behind.
    std::uint32_t lcg = 12345;
    std::vector<std::uint32_t> left(senders, per_sender);
    for (std::uint64_t k = 0; k < std::uint64_t{senders} * per_sender && !t.timed_out; ++k) {
      lcg = lcg * 1664525u + 1013904223u;
      std::uint32_t want = (lcg >> 16) % senders;
      while (left[want] == 0)
        want = (want + 1) % senders;
      --left[want];
      otpp::this_process::receive(otpp::when([want](const seq_msg& m) { return m.sender == want; },
                                             [&](const seq_msg& m) {
                                               ++t.received;
                                               if (!in_order(next, m.sender, m.seq))
                                                 ++t.out_of_order;
                                             }),
                                  otpp::after(otpp_test::patience, [&] { t.timed_out = true; }));
    }
    if (!otpp::this_process::receive_for<finish>(otpp_test::patience))
      t.timed_out = true;
    while (otpp::this_process::receive_for<seq_msg>(0ms))
      ++t.extra;
    // The skipped messages are all still there, in per-sender order.
    std::vector<std::uint32_t> noise_next(senders, 0);
    while (auto m = otpp::this_process::receive_for<noise_msg>(0ms)) {
      ++t.noise;
      if (!in_order(noise_next, m->sender, m->seq))
        ++t.noise_out_of_order;
    }
    otpp::send(me, t);
  });
  const otpp::pid receiver = rcv.pid;
  const otpp::ref rm = rcv.monitor;

  struct go {};
  std::vector<otpp::pid> pids;
  std::vector<otpp::ref> monitors;
  for (std::uint32_t s = 0; s < senders; ++s) {
    otpp::spawned_monitor sm = otpp::spawn_monitor([receiver, s] {
      otpp::this_process::receive([](go) {});
      std::uint32_t noise = 0;
      for (std::uint32_t i = 0; i < per_sender; ++i) {
        otpp::send(receiver, seq_msg{s, i});
        if (i % noise_every == 0)
          otpp::send(receiver, noise_msg{s, noise++});
      }
    });
    pids.push_back(sm.pid);
    monitors.push_back(sm.monitor);
  }
  for (auto& p : pids)
    otpp::send(p, go{});
  for (auto& m : monitors)
    CHECK(wait_down(m).is_normal());
  otpp::send(receiver, finish{});
  tally t = otpp_test::expect<tally>();
  check(t, std::uint64_t{senders} * per_sender);
  CHECK(t.noise == std::uint64_t{senders} * ((per_sender + noise_every - 1) / noise_every));
  CHECK(t.noise_out_of_order == 0);
  CHECK(wait_down(rm).is_normal());
}

} // namespace OTPP_TEST_FILE
