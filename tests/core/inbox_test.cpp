// The process inbox (closable_inbox in detail/intrusive_stack.hpp): FIFO
// order per producer, one wake-up per block, and a close racing with
// producers that loses no node.
#include <otpp/detail/intrusive_stack.hpp>

#include "otpp_test.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace OTPP_TEST_FILE {

namespace {

struct node {
  node* next = nullptr;
  int producer = 0;
  int seq = 0;
};
using inbox = otpp::detail::closable_inbox<node>;
using result = inbox::push_result;

#if defined(OTPP_DETAIL_TSAN) || defined(OTPP_DETAIL_ASAN)
constexpr int per_producer = 20000;
#else
constexpr int per_producer = 200000;
#endif

std::vector<node*> drain_all(inbox& q) {
  std::vector<node*> out;
  for (node* n = q.take_all(); n != nullptr; n = n->next)
    out.push_back(n);
  return out;
}

} // namespace

TEST_CASE("inbox: nodes come out in push order, and only the first push after a block wakes",
          "[core][inbox]") {
  inbox q;
  std::vector<node> nodes(10);
  CHECK(q.take_all() == nullptr);
  CHECK(q.try_block());
  CHECK(q.take_all() == nullptr); // blocked reads as empty
  CHECK(q.push(&nodes[0]) == result::woke_reader);
  CHECK(q.push(&nodes[1]) == result::ok);
  CHECK_FALSE(q.try_block()); // not empty
  for (std::size_t i = 2; i < nodes.size(); ++i)
    CHECK(q.push(&nodes[i]) == result::ok);
  auto got = drain_all(q);
  REQUIRE(got.size() == nodes.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == &nodes[i]);
  CHECK(q.take_all() == nullptr);
  // Blocked, then given up: the next push is an ordinary one.
  CHECK(q.try_block());
  CHECK(q.try_unblock());
  CHECK(q.push(&nodes[0]) == result::ok);
  CHECK(drain_all(q) == std::vector<node*>{&nodes[0]});
  // A producer that replaced the tag is waking the owner: no giving up.
  CHECK(q.try_block());
  CHECK(q.push(&nodes[1]) == result::woke_reader);
  CHECK_FALSE(q.try_unblock());
  CHECK(drain_all(q) == std::vector<node*>{&nodes[1]});
  // Closed: what was left comes back in order, and pushes fail.
  CHECK(q.push(&nodes[2]) == result::ok);
  CHECK(q.push(&nodes[3]) == result::ok);
  node* left = q.close();
  REQUIRE(left == &nodes[2]);
  CHECK(left->next == &nodes[3]);
  CHECK(nodes[3].next == nullptr);
  CHECK(q.push(&nodes[4]) == result::closed);
  CHECK(q.take_all() == nullptr);
}

TEST_CASE("inbox: 4 producers and a blocking owner, every node once and in order per producer",
          "[core][inbox]") {
  constexpr int producers = 4;
  inbox q;
  std::vector<std::vector<node>> nodes(producers, std::vector<node>(per_producer));
  std::atomic<int> wakeups{0};
  std::atomic<int> wake_flag{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        node& n = nodes[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)];
        n.producer = p;
        n.seq = i;
        if (q.push(&n) == result::woke_reader) {
          wakeups.fetch_add(1);
          wake_flag.store(1);
          wake_flag.notify_one();
        }
      }
    });
  std::vector<int> next_seq(producers, 0);
  int received = 0, blocks = 0;
  bool in_order = true;
  while (received < producers * per_producer) {
    bool any = false;
    for (node* n = q.take_all(); n != nullptr; n = n->next) {
      any = true;
      in_order = in_order && n->seq == next_seq[static_cast<std::size_t>(n->producer)]++;
      ++received;
    }
    if (!any && q.try_block()) {
      ++blocks;
      wake_flag.wait(0);
      wake_flag.store(0);
    }
  }
  for (auto& t : threads)
    t.join();
  CHECK(in_order);
  CHECK(received == producers * per_producer);
  CHECK(q.take_all() == nullptr);
  CHECK(wakeups.load() == blocks); // exactly one producer woke each block
}

TEST_CASE(
    "inbox: a close racing with producers loses no node, and a refused one stays the producer's",
    "[core][inbox]") {
  constexpr int producers = 3;
  constexpr int rounds = 40;
  for (int round = 0; round < rounds; ++round) {
    inbox q;
    std::vector<std::vector<node>> nodes(producers, std::vector<node>(per_producer / 10));
    // Where each node ended: 1 taken by the owner, 2 left at the close,
    // 3 refused (back to its producer).
    std::vector<std::vector<int>> fate(producers, std::vector<int>(nodes[0].size(), 0));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
      threads.emplace_back([&, p] {
        while (!go.load()) {
        }
        auto& mine = nodes[static_cast<std::size_t>(p)];
        for (std::size_t i = 0; i < mine.size(); ++i) {
          mine[i].producer = p;
          mine[i].seq = static_cast<int>(i);
          if (q.push(&mine[i]) == result::closed)
            fate[static_cast<std::size_t>(p)][i] = 3;
        }
      });
    go.store(true);
    // The owner takes a share, then closes while the producers still push.
    const std::size_t take = nodes[0].size() * static_cast<std::size_t>(round % 4) / 4;
    std::size_t taken = 0;
    while (taken < take)
      for (node* n = q.take_all(); n != nullptr; n = n->next) {
        fate[static_cast<std::size_t>(n->producer)][static_cast<std::size_t>(n->seq)] = 1;
        ++taken;
      }
    for (node* n = q.close(); n != nullptr; n = n->next)
      fate[static_cast<std::size_t>(n->producer)][static_cast<std::size_t>(n->seq)] = 2;
    for (auto& t : threads)
      t.join();
    // Every node has one fate, and per producer the refused ones come
    // after all the delivered ones.
    bool none_lost = true, refused_last = true;
    for (auto& per : fate) {
      bool refused = false;
      for (int f : per) {
        none_lost = none_lost && f != 0;
        refused_last = refused_last && (f == 3 || !refused);
        refused = refused || f == 3;
      }
    }
    REQUIRE(none_lost);
    REQUIRE(refused_last);
  }
}

} // namespace OTPP_TEST_FILE
