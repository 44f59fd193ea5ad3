// task_queue: the managed-process tutorial's blocking task queue.
//
// Shows:    a deferred reply: the submit handler takes a call_ref<int> and
//           returns without replying, so the caller stays blocked in its call
//           while the server goes on with other messages; the server keeps
//           the call_ref in its state and answers later, from the handler of
//           the task's result (call_ref::reply), or makes the call fail with
//           the task's failure (call_ref::fail). The work runs in tasks
//           (otpp::async_nolink) the server owns: their results (task_done)
//           and kills (down) are info messages it matches with task::owns.
//           Also: bounded concurrency with a FIFO backlog in the state, a
//           stats call, call_async + wait (a call in two halves).
// OTP idea: distributed-process-platform's BlockingQueue (the tutorial's
//           handleCallFrom + replyTo, poolStatsRequest); in Erlang, a
//           handle_call that returns {noreply, S} and a later
//           gen_server:reply(From, Result).
// Run:      cmake --preset dev && cmake --build --preset dev --target task_queue
//           && ./build/dev/examples/task_queue
// Expected output (the order of the server's lines depends on the task
// durations, 50 ms apart; on a very busy machine neighbours may swap):
//   queue: start a (running 1/2, waiting 0)
//   queue: start b (running 2/2, waiting 0)
//   queue: wait  c (running 2/2, waiting 1)
//   queue: wait  boom (running 2/2, waiting 2)
//   queue: wait  d (running 2/2, waiting 3)
//   queue: wait  e (running 2/2, waiting 4)
//   stats after submitting: 2 running, 4 waiting
//   queue: done  b -> 4
//   queue: start c (running 2/2, waiting 3)
//   queue: done  c -> 9
//   queue: start boom (running 2/2, waiting 2)
//   queue: fail  boom: {exception, std::runtime_error, "boom"}
//   queue: start d (running 2/2, waiting 1)
//   queue: done  d -> 25
//   queue: start e (running 2/2, waiting 0)
//   queue: done  e -> 36
//   queue: done  a -> 1
//   client 1 (a): 1
//   client 2 (b): 4
//   client 3 (c): 9
//   client 4 (boom): call failed: {exception, std::runtime_error, "boom"}
//   client 5 (d): 25
//   client 6 (e): 36
//   tasks started in order: a b c boom d e; at most 2 ran at once
//   queue: start last (running 1/2, waiting 0)
//   queue: done  last -> 42
//   execute(last) = 42
//   ok
#include <otpp/otpp.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace tp = otpp::this_process;

namespace {

// ---------------------------------------------------------------------------
// The protocol
// ---------------------------------------------------------------------------

// A task: runs in its own process and returns a result.
using task_fn = std::function<int()>;

struct submit { // call -> int, replied when the task has run
  std::string name;
  task_fn work;
};
struct stats_request {}; // call -> queue_stats
struct queue_stats {
  std::size_t running;
  std::size_t waiting;
};

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

struct queue_state {
  struct running_task {
    otpp::task<int> work; // the task (its own process), owned by the server
    std::string name;
    otpp::call_ref<int> caller; // who waits for this task's result
  };
  struct waiting_task {
    std::string name;
    task_fn work;
    otpp::call_ref<int> caller;
  };

  explicit queue_state(std::size_t max_running) : capacity(max_running) {}
  // Tasks are move-only, so is the state (said so: std::vector claims to be
  // copyable whatever it holds, and get_state would try to copy it).
  queue_state(queue_state&&) = default;
  queue_state(const queue_state&) = delete;

  std::size_t capacity;
  std::vector<running_task> running;
  std::deque<waiting_task> waiting; // FIFO backlog
  std::size_t peak = 0;             // most tasks ever running at once
  std::vector<std::string> started; // start order (to show it is FIFO)
};

// Run a task (we are in the server: it owns the task). Its result, or how
// it failed, comes back as a task_done message, or a `down` if it was killed.
void start_task(queue_state& s, std::string name, task_fn work, otpp::call_ref<int> caller) {
  fmt::print("queue: start {} (running {}/{}, waiting {})\n", name, s.running.size() + 1,
             s.capacity, s.waiting.size());
  s.started.push_back(name);
  s.running.push_back({otpp::async_nolink(std::move(work)), std::move(name), std::move(caller)});
  s.peak = std::max(s.peak, s.running.size());
}

// A message of one of our tasks: answer its caller, then start the oldest
// waiting task.
template <class M> void finished(queue_state& s, M& m) {
  auto t = std::find_if(s.running.begin(), s.running.end(),
                        [&](const auto& r) { return r.work.owns(m); });
  if (t == s.running.end())
    return;
  otpp::task_result<int> r = t->work.take(m);
  if (r.ok()) {
    fmt::print("queue: done  {} -> {}\n", t->name, r.value());
    t->caller.reply(r.value());
  } else {
    fmt::print("queue: fail  {}: {}\n", t->name, r.error()); // (the exception's type and text)
    t->caller.fail(r.error());
  }
  s.running.erase(t);
  if (!s.waiting.empty()) {
    queue_state::waiting_task next = std::move(s.waiting.front());
    s.waiting.pop_front();
    start_task(s, std::move(next.name), std::move(next.work), std::move(next.caller));
  }
}

struct started_request {}; // call -> what ran, in order, and the peak
struct started_tasks {
  std::vector<std::string> names;
  std::size_t peak;
};

auto definition() {
  // No init function: start(definition(), capacity) builds queue_state(capacity).
  return otpp::server<queue_state>()
      // Accept a task at once; reply only when it has run (no reply here).
      .on_call([](queue_state& s, otpp::call_ref<int> caller, submit t) {
        if (s.running.size() < s.capacity) {
          start_task(s, std::move(t.name), std::move(t.work), std::move(caller));
        } else {
          fmt::print("queue: wait  {} (running {}/{}, waiting {})\n", t.name, s.running.size(),
                     s.capacity, s.waiting.size() + 1);
          s.waiting.push_back({std::move(t.name), std::move(t.work), std::move(caller)});
        }
      })
      .on_call([](queue_state& s, stats_request) {
        return queue_stats{s.running.size(), s.waiting.size()};
      })
      .on_call([](queue_state& s, started_request) {
        return started_tasks{s.started, s.peak};
      })
      .on_info([](queue_state& s, otpp::task_done<int> d) { finished(s, d); })
      .on_info([](queue_state& s, otpp::down d) { finished(s, d); })
      .name("task_queue");
}

// ---------------------------------------------------------------------------
// The client API
// ---------------------------------------------------------------------------

using task_queue = otpp::server_ref<decltype(definition())>;

task_queue start_queue(std::size_t capacity) {
  return otpp::start(definition(), capacity);
}

// Run `work` on the queue and wait for its result, however long the queue
// is (no timeout). Throws otpp::call_error with the task's exit reason if it
// failed.
int execute(const task_queue& q, std::string name, task_fn work) {
  return otpp::call(q, submit{std::move(name), std::move(work)}, otpp::infinity);
}

// The same in two halves: submit now, `wait()` on the result later.
otpp::pending_call<int> submit_task(const task_queue& q, std::string name, task_fn work) {
  return otpp::call_async(q, submit{std::move(name), std::move(work)});
}

queue_stats stats(const task_queue& q) {
  return otpp::call(q, stats_request{});
}

// ---------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------

struct submitted {}; // client -> main
struct outcome {     // client -> main
  int client;
  std::string text;
};

// A task that sleeps (without blocking its scheduler) then returns n * n.
task_fn square_after(int n, std::chrono::milliseconds d) {
  return [n, d] {
    tp::sleep_for(d);
    return n * n;
  };
}

struct job {
  std::string name;
  task_fn work;
};

} // namespace

int main() {
  constexpr std::size_t capacity = 2;
  const std::vector<job> jobs = {
      {"a", square_after(1, 250ms)}, // runs from 0 to 250 ms
      {"b", square_after(2, 50ms)},  // 0 to 50
      {"c", square_after(3, 50ms)},  // waits for a free slot: 50 to 100
      {"boom", []() -> int { throw std::runtime_error("boom"); }}, // fails at 100
      {"d", square_after(5, 50ms)},                                // 100 to 150
      {"e", square_after(6, 50ms)},                                // 150 to 200
  };
  const std::vector<std::string> expected = {
      "1", "4", "9", R"(call failed: {exception, std::runtime_error, "boom"})", "25", "36"};

  otpp::runtime rt({.schedulers = 2});
  bool ok = true;
  {
    otpp::scoped_process main_process(rt);
    const otpp::pid me = main_process.self();
    const task_queue q = start_queue(capacity);

    // Six clients, each its own process blocked until its task has run.
    // Each tells main once its task is submitted, and main starts the next
    // client only then: so the queue receives the tasks in this order.
    for (int i = 0; i < static_cast<int>(jobs.size()); ++i) {
      const job& j = jobs[static_cast<std::size_t>(i)];
      otpp::spawn([q, me, i, j] {
        otpp::pending_call<int> pending = submit_task(q, j.name, j.work);
        otpp::send(me, submitted{});
        otpp::call_result<int> r = pending.wait();
        otpp::send(me, outcome{i, r.ok() ? fmt::format("{}", r.value())
                                         : fmt::format("call failed: {}", r.error())});
      });
      tp::receive([](submitted) {});
    }
    const queue_stats early = stats(q);
    fmt::print("stats after submitting: {} running, {} waiting\n", early.running, early.waiting);

    std::vector<std::string> got(jobs.size());
    for (std::size_t n = 0; n < jobs.size(); ++n) {
      outcome o = tp::receive<outcome>();
      got[static_cast<std::size_t>(o.client)] = std::move(o.text);
    }
    for (std::size_t i = 0; i < jobs.size(); ++i)
      fmt::print("client {} ({}): {}\n", i + 1, jobs[i].name, got[i]);

    // FIFO and the bound.
    const started_tasks s = otpp::call(q, started_request{});
    fmt::print("tasks started in order: {}; at most {} ran at once\n", fmt::join(s.names, " "),
               s.peak);
    const queue_stats late = stats(q);

    // The plain blocking call: one step.
    const int last = execute(q, "last", [] { return 42; });
    fmt::print("execute(last) = {}\n", last);

    ok = got == expected && early.running <= capacity && late.running == 0 && late.waiting == 0 &&
         s.peak == capacity &&
         s.names == std::vector<std::string>{"a", "b", "c", "boom", "d", "e"} && last == 42;
    otpp::stop(q);
  }
  rt.run();
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
