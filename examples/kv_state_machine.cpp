// kv_state_machine: the coroutine-state-machines seed's key-value store, a
// state machine served over TCP on 127.0.0.1, each write appended to a
// journal file before it is acknowledged, recovered from the journal after
// a crash.
//
// Shows:    a handler that awaits its file I/O in the middle of its code
//           (sm::on_async, co_await cx.await(journal.async_append(...))) while
//           the machine keeps answering reads; otpp::file (io_uring where the
//           kernel allows it, else the blocking pool); requests postponed
//           while the journal is replayed; a supervisor restarting the store
//           after `kill`, with its data back from the journal; one process
//           per TCP connection.
// OTP idea: gen_statem with postpone and inserted events; a journal as
//           disk_log; the gen_tcp acceptor pattern; a one_for_one supervisor.
// Run:      build the `kv_state_machine` target and run it.
// Protocol: `Write <key> <int>` -> `Ok`; `Read <key>` -> `Result <int>` or
//           `Result Nothing`, one line each.
#include <otpp/behaviour/statem.hpp>
#include <otpp/otpp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace sm = otpp::sm;
namespace tp = otpp::this_process;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// ---- the store: a state machine ------------------------------------------

struct recovering {}; // replaying the journal; requests wait (postponed)
struct serving {};

struct write_cmd {
  std::string key;
  int value;
  using reply_type = std::string;
};
struct read_cmd {
  std::string key;
  using reply_type = std::string;
};
struct reads_during_writes {
  using reply_type = std::size_t;
};
struct replay {}; // inserted by init

struct store_data {
  explicit store_data(std::filesystem::path p) : path(std::move(p)) {}
  std::filesystem::path path;
  otpp::file journal;
  std::map<std::string, std::pair<int, std::uint64_t>> table; // value, sequence number
  std::uint64_t next_seq = 0;
  std::size_t pending_writes = 0;
  std::size_t reads_during_writes = 0;
};

using ctx = sm::context<store_data, recovering, serving>;

// Apply one journal line ("key value\n").
void apply_line(store_data& d, const std::string& line) {
  std::istringstream in(line);
  std::string key;
  int value = 0;
  if (in >> key >> value)
    d.table[key] = {value, d.next_seq++};
}

auto kv_store() {
  return otpp::statem<store_data, recovering, serving>()
      .named("kv")
      .on_init([](store_data& d) {
        d.journal = otpp::file::open(d.path, otpp::file::read_write | otpp::file::create);
        return sm::init_ok(recovering{}, sm::next_event(replay{}));
      })
      // Recovering: read the journal (awaited: the machine could serve
      // other events meanwhile; requests are postponed until serving).
      .on_async<recovering>([](ctx& cx, sm::internal_of<replay>) -> sm::task<sm::next<serving>> {
        store_data& d = cx.data();
        const std::string all =
            co_await cx.await(d.journal.async_read_at(0, d.journal.end(), asio::deferred));
        std::size_t start = 0, lines = 0;
        for (std::size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
          apply_line(cx.data(), all.substr(start, nl - start));
          ++lines;
        }
        fmt::print("  kv: recovered {} keys from {} journal lines ({} backend)\n",
                   cx.data().table.size(), lines,
                   cx.data().journal.backend() == otpp::file_backend::io_uring ? "io_uring"
                                                                               : "blocking pool");
        co_return sm::next_state(serving{});
      })
      .postpone<recovering, sm::call_of<write_cmd>>()
      .postpone<recovering, sm::call_of<read_cmd>>()
      // Serving a write: journal it (append, then fdatasync), then update
      // the table and acknowledge. Other events are handled while it waits.
      .on_async<serving>([](ctx& cx, sm::call_of<write_cmd> w) -> sm::task<sm::action> {
        const std::uint64_t seq = cx.data().next_seq++; // journal order
        ++cx.data().pending_writes;
        co_await cx.await(cx.data().journal.async_append(
            fmt::format("{} {}\n", w.value.key, w.value.value), asio::deferred));
        co_await cx.await(cx.data().journal.async_sync_data(asio::deferred));
        // Resumed: the data may have changed while we waited (other writes
        // finished first): a newer write of the same key wins, as on replay.
        store_data& d = cx.data();
        --d.pending_writes;
        auto [it, inserted] = d.table.try_emplace(w.value.key, w.value.value, seq);
        if (!inserted && it->second.second < seq)
          it->second = {w.value.value, seq};
        co_return sm::reply(w, std::string("Ok"));
      })
      .on<serving>([](serving&, store_data& d, sm::call_of<reads_during_writes> q) {
        return sm::reply(q, d.reads_during_writes);
      })
      .on<serving>([](serving&, store_data& d, sm::call_of<read_cmd> r) {
        if (d.pending_writes > 0)
          ++d.reads_during_writes;
        auto it = d.table.find(r.value.key);
        return sm::reply(r, it == d.table.end() ? std::string("Result Nothing")
                                                : fmt::format("Result {}", it->second.first));
      });
}
using kv_def = decltype(kv_store());

// ---- TCP: one process per connection --------------------------------------

std::atomic<std::uint16_t> listening_port{0};

using server_socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

std::string serve_line(const std::string& line) {
  std::istringstream in(line);
  std::string verb, key;
  in >> verb >> key;
  auto store = otpp::by_name<kv_def>("kv");
  if (verb == "Write") {
    int value = 0;
    if (!(in >> value))
      return "Error: Write <key> <int>";
    auto r = otpp::try_call(store, write_cmd{key, value});
    return r ? r.value() : fmt::format("Error: {}", r.error());
  }
  if (verb == "Read" && !key.empty()) {
    auto r = otpp::try_call(store, read_cmd{key});
    return r ? r.value() : fmt::format("Error: {}", r.error());
  }
  return "Error: Write <key> <int> | Read <key>";
}

// Reads with async_read_some, not async_read_until: a process can be
// killed while its read is pending (the supervisor demo does), and then
// the socket is closed and the read aborted. An aborted async_read_some
// touches nothing; an aborted async_read_until still resizes its
// dynamic buffer, a string that went with the process's stack.
void connection(server_socket& sock) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    std::size_t nl;
    while ((nl = buf.find('\n')) == std::string::npos) {
      auto [ec, n] = sock.async_read_some(asio::buffer(chunk), asio::as_tuple(otpp::use_process));
      if (ec)
        return; // closed
      buf.append(chunk, n);
    }
    std::string reply = serve_line(buf.substr(0, nl)) + "\n";
    buf.erase(0, nl + 1);
    asio::async_write(sock, asio::buffer(reply), otpp::use_process);
  }
}

void listener() {
  otpp::runtime& rt = tp::get_runtime();
  tcp::acceptor acc(tp::executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  listening_port = acc.local_endpoint().port();
  for (unsigned n = 0;; ++n) {
    const unsigned k = n % rt.scheduler_count();
    server_socket sock = acc.async_accept(rt.executor(k), otpp::use_process);
    otpp::spawn([s = std::move(sock)]() mutable { connection(s); }, {.scheduler = k});
  }
}

// ---- a client -------------------------------------------------------------

class client {
public:
  explicit client(std::uint16_t port) : sock_(tp::executor()) {
    sock_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), otpp::use_process);
  }
  // Send several lines at once, then read as many answers.
  std::vector<std::string> send(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines)
      out += l + "\n";
    asio::async_write(sock_, asio::buffer(out), otpp::use_process);
    std::vector<std::string> answers;
    while (answers.size() < lines.size()) {
      const std::size_t n =
          asio::async_read_until(sock_, asio::dynamic_buffer(buf_), '\n', otpp::use_process);
      answers.push_back(buf_.substr(0, n - 1));
      buf_.erase(0, n);
    }
    return answers;
  }
  std::string send(const std::string& line) { return send(std::vector<std::string>{line}).at(0); }

private:
  tcp::socket sock_;
  std::string buf_;
};

} // namespace

int main() {
  const auto journal =
      std::filesystem::temp_directory_path() / fmt::format("otpp-kv-{}.journal", ::getpid());
  std::filesystem::remove(journal);
  otpp::runtime rt({.schedulers = 2});
  bool ok = true;
  {
    otpp::scoped_process main_process(rt);
    auto spec = otpp::supervisor_spec{
        .strategy = otpp::one_for_one,
        .children = {otpp::worker("kv",
                                  [journal] {
                                    return otpp::start_link(otpp::start_options{.name = "kv"},
                                                            kv_store(), journal);
                                  }),
                     otpp::worker("listener", [] { return otpp::spawn_link(listener); })},
        .name = "kv_sup"};
    auto sup = otpp::start(spec);
    while (listening_port == 0)
      tp::sleep_for(1ms);
    fmt::print("kv store listening on 127.0.0.1:{}\n", listening_port.load());

    client a(listening_port), b(listening_port);
    fmt::print("Write x 1 -> {}\n", a.send("Write x 1"));
    fmt::print("Read x    -> {}\n", a.send("Read x"));
    ok = ok && a.send("Read x") == "Result 1";

    // A burst of writes on one connection and reads on another at once:
    // reads are answered while writes wait for the disk.
    std::vector<std::string> writes, reads;
    for (int i = 0; i < 200; ++i) {
      writes.push_back(fmt::format("Write k{} {}", i % 20, i));
      reads.push_back("Read x");
    }
    auto a_pending = otpp::spawn(
        [&a, &writes, me = tp::self()] {
          auto answers = a.send(writes);
          otpp::send(me, answers);
        },
        {.scheduler = 0}); // the socket's scheduler
    auto read_answers = b.send(reads);
    auto write_answers = tp::receive([](std::vector<std::string>& v) { return v; });
    (void)a_pending;
    std::size_t oks = 0;
    for (const auto& w : write_answers)
      if (w == "Ok")
        ++oks;
    const auto reads_ok =
        std::count(read_answers.begin(), read_answers.end(), std::string("Result 1"));
    const auto during = otpp::call(otpp::by_name<kv_def>("kv"), reads_during_writes{});
    fmt::print("200 writes: {} Ok; 200 reads: {} answered, {} of them while writes were "
               "pending\n",
               oks, reads_ok, during);
    ok = ok && oks == 200 && reads_ok == 200;
    const std::string k7 = a.send("Read k7");
    fmt::print("Read k7   -> {}\n", k7);
    ok = ok && k7 == "Result 187"; // the last write of k7 (i = 187)

    // Kill the store: its supervisor restarts it, and the journal brings
    // the data back.
    const otpp::pid before = otpp::whereis("kv");
    otpp::kill(before);
    fmt::print("killed the store {}\n", before);
    std::string x;
    for (int i = 0; i < 1000; ++i) {
      x = b.send("Read x");
      if (x == "Result 1" && otpp::whereis("kv") != before)
        break;
      tp::sleep_for(2ms);
    }
    const std::string k7_after = b.send("Read k7");
    fmt::print("after the restart ({}): Read x -> {}, Read k7 -> {}\n", otpp::whereis("kv"), x,
               k7_after);
    ok = ok && x == "Result 1" && k7_after == "Result 187" && otpp::whereis("kv") != before;
    fmt::print("Read nope -> {}\n", b.send("Read nope"));
    otpp::stop(sup, otpp::exit_reason::shutdown());
  }
  std::filesystem::remove(journal);
  fmt::print("{}\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
