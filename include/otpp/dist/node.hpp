// otpp::dist::node: this program as a node of an Erlang cluster. Remote pids
// are proxies (core/remote.hpp) whose deliveries become control messages on
// a connection; control messages that arrive become messages and signals of
// local processes.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/behaviour/call.hpp>
#include <otpp/core/any_message.hpp>
#include <otpp/core/asio.hpp>
#include <otpp/core/exit_reason.hpp>
#include <otpp/core/link.hpp>
#include <otpp/core/message.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/receive.hpp>
#include <otpp/core/registry.hpp>
#include <otpp/core/remote.hpp>
#include <otpp/core/report.hpp>
#include <otpp/core/runtime.hpp>
#include <otpp/dist/atom.hpp>
#include <otpp/dist/channel.hpp>
#include <otpp/dist/control.hpp>
#include <otpp/dist/convert.hpp>
#include <otpp/dist/epmd.hpp>
#include <otpp/dist/exit_reason_term.hpp>
#include <otpp/dist/handshake.hpp>
#include <otpp/dist/node_options.hpp>
#include <otpp/dist/pg.hpp>
#include <otpp/dist/rpc.hpp>
#include <otpp/dist/term.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace otpp::dist {

/// A running node. Start it from a process with `node::start`; it runs
/// processes of its own (a listener, and a connection and a reader per
/// peer) until `stop` or the runtime's shutdown.
///
/// What a local process sends to a remote pid travels over the connection
/// to its node (made on first use): messages of registered types (see
/// `message_types`) and `term`s, links, unlinks, exits, monitors and
/// downs, in order per pair of processes. When a connection is lost, every
/// local process linked to or monitoring a process of that node gets
/// `noconnection`.
class node : public std::enable_shared_from_this<node> {
  struct ctor_key {};

public:
  /// Start a node on the calling process's runtime.
  /// @par Errors
  /// `std::invalid_argument` (a bad name, no cookie), `protocol_error`
  /// (epmd refuses the name), `boost::system::system_error` (the port).
  static std::shared_ptr<node> start(node_options opts) {
    const node_name_parts parts = split_node_name(opts.name);
    register_builtin_messages();
    if (opts.cookie.empty())
      opts.cookie = read_cookie_file();
    auto n = std::make_shared<node>(ctor_key{}, std::move(opts), this_process::get_runtime());
    const pid me = this_process::self();
    struct started {
      std::uint16_t port;
      std::uint32_t creation;
      std::string error;
    };
    const ref tag = make_ref();
    std::weak_ptr<node> weak = n;
    n->listener_ = otpp::spawn([weak, me, tag, alive = parts.alive] {
      auto self = weak.lock();
      if (!self)
        return;
      using tcp = boost::asio::ip::tcp;
      std::optional<tcp::acceptor> acceptor;
      std::optional<epmd_registration> reg;
      try {
        acceptor.emplace(this_process::executor(),
                         tcp::endpoint(boost::asio::ip::make_address(self->opts_.listen_address),
                                       self->opts_.port));
        const std::uint16_t port = acceptor->local_endpoint().port();
        std::uint32_t creation = 1;
        if (self->opts_.use_epmd) {
          reg.emplace(epmd_registration::make_or_start(alive, port, self->opts_.epmd_port,
                                                       self->opts_.listen_address == "127.0.0.1"));
          creation = reg->creation();
        }
        // Before anything is accepted and before start returns.
        self->port_ = port;
        self->self_.creation = creation;
        otpp::send(me, std::pair<ref, started>{tag, started{port, creation, {}}});
      } catch (const std::exception& e) {
        otpp::send(me, std::pair<ref, started>{tag, started{0, 0, e.what()}});
        return;
      }
      for (;;) {
        tcp::socket s = acceptor->async_accept(use_process);
        s.set_option(tcp::no_delay(true));
        self->spawn_connection(std::nullopt, std::move(s));
      }
    });
    auto got = this_process::receive(
        when(
            [tag](const std::pair<ref, started>& s) { return s.first == tag; },
            [](std::pair<ref, started>& s) { return std::optional<started>(std::move(s.second)); }),
        after(std::chrono::seconds(30), [] { return std::optional<started>(); }));
    if (!got || !got->error.empty()) {
      otpp::kill(n->listener_);
      throw std::runtime_error(fmt::format("otpp::dist::node: {} did not start: {}", n->opts_.name,
                                           got ? got->error : "timed out"));
    }
    // pg scopes of this runtime reach the same scopes on the peers.
    n->pg_link_ = std::make_shared<pg_link>(n);
    pg::attach_cluster(*n->rt_, n->pg_link_);
    return n;
  }

  node(ctor_key, node_options opts, runtime& rt)
      : opts_(std::move(opts)), rt_(&rt), self_{atom(opts_.name), flag::otpp_node, 0} {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  ~node() {
    if (pg_link_)
      pg::detach_cluster(*rt_, pg_link_.get());
  }

  /// `alive@host`.
  const std::string& name() const noexcept { return opts_.name; }
  /// The port it listens on.
  std::uint16_t port() const noexcept { return port_; }
  /// This incarnation's creation (from epmd).
  std::uint32_t creation() const noexcept { return self_.creation; }

  /// The nodes connected now (Erlang's `nodes()`).
  std::vector<std::string> nodes() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, c] : conns_)
      if (c.up)
        out.emplace_back(name.name());
    return out;
  }

  /// The pid of the process registered as `name` on `node`, as a remote
  /// pid to send, link and monitor (`{Name, Node}`): messages sent to it go
  /// as REG_SEND. Sending to a name nobody holds is dropped there.
  void send(std::string_view to_node, std::string_view name, term message) {
    enqueue(atom(to_node),
            reg_send_msg{to_external(this_or_null()), atom(name), std::move(message)});
  }
  template <class T> void send(std::string_view to_node, std::string_view name, const T& v) {
    send(to_node, name, encode_value(v));
  }

  /// A pid standing for the process registered as `name` on `peer`
  /// (Erlang's `{Name, Node}`): what is sent to it goes as REG_SEND,
  /// `call` and `cast` work on it (a call monitors the name, so a name
  /// nobody holds fails the call with `noproc`), and `monitor` watches
  /// the name. Links and exit signals need the pid itself.
  pid named(std::string_view peer, std::string_view name) {
    std::shared_ptr<peer_endpoint> ep;
    {
      std::lock_guard lock(mutex_);
      auto& e = name_endpoints_[atom(peer)];
      if (!e)
        e = std::make_shared<peer_endpoint>(weak_from_this(), atom(peer), 0, true);
      ep = e;
    }
    return ep->proxy(ep->key_for(atom(name)));
  }

  /// The pid an external pid names: a local process (null if it is not
  /// one this node knows), or a remote pid of its node.
  pid to_pid(const external_pid& e) { return from_external(e); }
  /// The pid in `t` (an external pid); throws `bad_term` for another term.
  pid to_pid(const term& t) {
    if (const auto* e = t.get_if<external_pid>())
      return from_external(*e);
    throw bad_term(fmt::format("otpp::dist::node::to_pid: {} is not a pid", to_string(t)));
  }
  /// The external pid a pid is sent as.
  external_pid to_external_pid(const pid& p) { return to_external(p); }

  /// A function Erlang can run on this node with `rpc:call(Node, Module,
  /// Function, Args)` or `erpc:call` (and `spawn(Node, Module, Function,
  /// Args)`): `f` takes the arguments as C++ values (each converted with
  /// `from_term`; `const std::vector<term>&` takes them as they are) and
  /// returns a value converted with `to_term` (`void`: `ok`). It runs in a
  /// process of its own, so it may call, receive and block. An exception
  /// reaches the caller as `{badrpc, {'EXIT', {{exception, Type, What},
  /// []}}}`, arguments that do not fit as `{badrpc, {'EXIT',
  /// {{badarg, ...}, []}}}`; a function nobody registered as `undef`, as
  /// Erlang says it.
  template <class F> void register_rpc(std::string_view module, std::string_view function, F f) {
    rpcs_.add(atom(module), atom(function), make_rpc_function(std::move(f)));
  }

  /// `nodeup` / `nodedown` messages to the calling process from now on.
  void monitor_nodes(bool on = true) {
    const pid me = this_process::self();
    std::lock_guard lock(mutex_);
    auto it = std::find(node_watchers_.begin(), node_watchers_.end(), me);
    if (on && it == node_watchers_.end())
      node_watchers_.push_back(me);
    else if (!on && it != node_watchers_.end())
      node_watchers_.erase(it);
  }

  /// Watch the connection to `peer` (Erlang's `monitor_node(Node, true)`):
  /// the calling process gets one `nodedown` when it is lost, or at once
  /// if `peer` cannot be reached (a connection is made if there is none).
  /// Each call adds a monitor told once; `on = false` removes one.
  void monitor_node(std::string_view peer, bool on = true) {
    const pid me = this_process::self();
    const atom name(peer);
    bool connect = false;
    {
      std::lock_guard lock(mutex_);
      if (!on) {
        auto m = node_monitors_.find(name);
        if (m == node_monitors_.end())
          return;
        auto it = std::find(m->second.begin(), m->second.end(), me);
        if (it != m->second.end())
          m->second.erase(it);
        return;
      }
      node_monitors_[name].push_back(me);
      connect = conns_.find(name) == conns_.end();
    }
    if (connect)
      spawn_connection(name, std::nullopt); // its end (or failure) tells the monitors
  }

  /// Disconnect from `peer` (Erlang's `disconnect_node`): linked and
  /// monitoring processes get `noconnection`. False if not connected.
  bool disconnect(std::string_view peer) {
    pid writer;
    {
      std::lock_guard lock(mutex_);
      auto it = conns_.find(atom(peer));
      if (it == conns_.end())
        return false;
      writer = it->second.writer;
    }
    otpp::exit(writer, exit_reason::shutdown("disconnect"));
    return true;
  }

  /// Stop listening, close every connection (their processes get
  /// `noconnection`) and forget the peers.
  void stop() {
    otpp::kill(listener_);
    std::vector<pid> writers;
    {
      std::lock_guard lock(mutex_);
      for (auto& [name, c] : conns_)
        writers.push_back(c.writer);
    }
    for (const pid& w : writers)
      otpp::exit(w, exit_reason::shutdown("node stopped"));
  }

private:
  // -------------------------------------------------------------------------
  // Remote pids: an endpoint per peer incarnation (name, creation).
  // -------------------------------------------------------------------------
  // One per peer incarnation for its pids; one per peer for its registered
  // names (`by_name`: a key names an atom, and the pid stands for
  // `{Name, Node}`).
  class peer_endpoint final : public remote_endpoint {
  public:
    peer_endpoint(std::weak_ptr<node> n, atom name, std::uint32_t creation, bool by_name = false)
        : node_(std::move(n)), name_(name), creation_(creation), by_name_(by_name) {}
    void deliver(const pid& to, remote_delivery d) noexcept override {
      if (auto n = node_.lock())
        n->outgoing(*this, to, std::move(d));
    }
    std::string node_name() const override { return std::string(name_.name()); }
    std::string describe(std::uint64_t key) const override {
      if (by_name_)
        return fmt::format("{{{},{}}}", registered(key).name(), name_.name());
      return fmt::format("<{}.{}.{}>", name_.name(), key & 0xffffffffu, key >> 32);
    }
    atom name() const noexcept { return name_; }
    std::uint32_t creation() const noexcept { return creation_; }
    bool by_name() const noexcept { return by_name_; }
    // The key of a registered name / the name of a key (by_name only).
    std::uint64_t key_for(atom a) {
      std::lock_guard lock(names_mutex_);
      auto [it, added] = keys_.emplace(a, keys_.size() + 1);
      if (added)
        names_.emplace(it->second, a);
      return it->second;
    }
    atom registered(std::uint64_t key) const {
      std::lock_guard lock(names_mutex_);
      auto it = names_.find(key);
      return it != names_.end() ? it->second : atom();
    }

  private:
    std::weak_ptr<node> node_;
    atom name_;
    std::uint32_t creation_;
    bool by_name_;
    mutable std::mutex names_mutex_;
    std::map<atom, std::uint64_t> keys_;
    std::map<std::uint64_t, atom> names_;
  };

  // What pg scopes ask of the cluster (behaviour/pg_cluster.hpp).
  class pg_link final : public pg::cluster {
  public:
    explicit pg_link(const std::shared_ptr<node>& n) : node_(n) {}
    std::vector<pid> scope_on_peers(const std::string& scope) override {
      std::vector<pid> out;
      if (auto n = node_.lock())
        for (const std::string& peer : n->nodes())
          out.push_back(n->named(peer, scope));
      return out;
    }

  private:
    std::weak_ptr<node> node_;
  };

  static void register_builtin_messages() {
    static const bool done = [] {
      register_message<int>();
      register_message<long>();
      register_message<long long>();
      register_message<unsigned>();
      register_message<unsigned long>();
      register_message<unsigned long long>();
      register_message<double>();
      register_message<bool>();
      register_message<std::string>();
      register_message<atom>();
      register_message<term>();
      register_message<pid>();
      register_message<std::monostate>();
      otpp::detail::register_pg_messages();
      return true;
    }();
    static_cast<void>(done);
  }

  static std::uint64_t key_of(const external_pid& e) noexcept {
    return (std::uint64_t{e.serial} << 32) | e.id;
  }

  // Pid mapping while this node encodes or decodes (see term_traits<pid>).
  struct codec_scope final : detail::dist_pid_codec {
    explicit codec_scope(node& n) : n_(n), prev_(detail::dist_codec) { detail::dist_codec = this; }
    codec_scope(const codec_scope&) = delete;
    codec_scope& operator=(const codec_scope&) = delete;
    ~codec_scope() override { detail::dist_codec = prev_; }
    external_pid to_external(const pid& p) override { return n_.to_external(p); }
    pid from_external(const external_pid& e) override { return n_.from_external(e); }
    node& n_;
    detail::dist_pid_codec* prev_;
  };

  pid this_or_null() const { return this_process::is_process() ? this_process::self() : pid(); }

  external_pid to_external(const pid& p) {
    if (remote::is_remote(p)) {
      auto* ep = static_cast<peer_endpoint*>(remote::endpoint_of(p));
      const std::uint64_t k = remote::key_of(p);
      if (ep->by_name())
        throw bad_term(fmt::format("otpp::dist::node: {} stands for a registered name; only pids "
                                   "travel inside messages",
                                   p));
      return {ep->name(), static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32),
              ep->creation()};
    }
    // A local process (or none: a thread): remembered, so that it is found
    // when its pid comes back.
    const std::uint64_t id = p.id();
    if (p) {
      std::lock_guard lock(mutex_);
      if (exported_.emplace(id, p).second && exported_.size() >= 2 * exported_swept_) {
        // Forget the ended ones once the table has doubled since the last
        // sweep: amortised O(1), and it holds at most twice the live ones.
        std::erase_if(exported_, [](const auto& e) {
          return otpp::info(e.second).status == otpp::process_status::exited;
        });
        exported_swept_ = std::max<std::size_t>(exported_.size(), 1024);
      }
    }
    return {self_.name, static_cast<std::uint32_t>(id), static_cast<std::uint32_t>(id >> 32),
            self_.creation};
  }

  pid from_external(const external_pid& e) {
    if (e.node == self_.name) {
      if (e.creation != self_.creation)
        return pid(); // an earlier incarnation of this node: nobody
      std::lock_guard lock(mutex_);
      auto it = exported_.find(key_of(e));
      return it != exported_.end() ? it->second : pid();
    }
    return endpoint(e.node, e.creation)->proxy(key_of(e));
  }

  std::shared_ptr<peer_endpoint> endpoint(atom name, std::uint32_t creation) {
    std::lock_guard lock(mutex_);
    auto& ep = endpoints_[{name, creation}];
    if (!ep)
      ep = std::make_shared<peer_endpoint>(weak_from_this(), name, creation);
    return ep;
  }

  template <class T> term encode_value(const T& v) {
    codec_scope scope(*this);
    return to_term(v);
  }

  // -------------------------------------------------------------------------
  // Exit reasons on the wire (exit_reason_term.hpp).
  // -------------------------------------------------------------------------
public:
  /// `dist::reason_to_term`.
  static term reason_to_term(const exit_reason& r) { return dist::reason_to_term(r); }
  /// `dist::reason_from_term`.
  static exit_reason reason_from_term(const term& t) { return dist::reason_from_term(t); }

private:
  // -------------------------------------------------------------------------
  // Outgoing: what local processes send to remote pids.
  // -------------------------------------------------------------------------
  void outgoing(peer_endpoint& ep, const pid& to, remote_delivery d) noexcept {
    try {
      codec_scope scope(*this);
      using k = remote_delivery::kind;
      const pid from = d.from;
      if (ep.by_name()) {
        outgoing_named(ep, to, std::move(d));
        return;
      }
      const external_pid dest = to_external(to);
      switch (d.what) {
      case k::message: {
        std::optional<term> t;
        const auto e = message_types::find(d.message.type_name());
        if (e)
          t = e->encode(d.message);
        if (!t) {
          report_unencodable(d.message.type_name(), to);
          return;
        }
        switch (e->how) {
        case message_types::form::value:
          break;
        case message_types::form::cast:
          t = term::tuple({term(atom("$gen_cast")), std::move(*t)});
          break;
        case message_types::form::request:
          t = start_call(ep, to, *d.message.requester(), dest, std::move(*t));
          break;
        case message_types::form::reply: {
          // The answer to a call from the peer: {Tag, Reply} with its tag.
          std::optional<term> theirs;
          if (auto tag = d.message.reply_tag()) {
            std::lock_guard lock(mutex_);
            auto it = calls_in_.find(tag->value());
            if (it != calls_in_.end()) {
              theirs = std::move(it->second.tag);
              calls_in_.erase(it);
            }
          }
          if (!theirs)
            return; // answered already, or not a call of theirs
          t = term::tuple({std::move(*theirs), std::move(*t)});
          break;
        }
        }
        enqueue(ep.name(), send_msg{dest, std::nullopt, std::move(*t)});
        return;
      }
      case k::link:
        track_link(ep.name(), from, to, true);
        enqueue(ep.name(), link_msg{to_external(from), dest});
        return;
      case k::unlink:
        track_link(ep.name(), from, to, false);
        enqueue(ep.name(), unlink_id_msg{make_ref().value(), to_external(from), dest, false});
        return;
      case k::exit:
        enqueue(ep.name(), exit_msg{to_external(from), dest, reason_to_term(d.reason), false});
        return;
      case k::link_exit:
        track_link(ep.name(), from, to, false);
        enqueue(ep.name(), exit_msg{to_external(from), dest, reason_to_term(d.reason), true});
        return;
      case k::monitor:
        track_monitor(ep.name(), from, to, d.monitor.value(), true);
        enqueue(ep.name(), monitor_msg{to_external(from), dest, our_ref(d.monitor), false});
        return;
      case k::demonitor:
        track_monitor(ep.name(), from, to, d.monitor.value(), false);
        {
          std::lock_guard lock(mutex_);
          calls_out_.erase(d.monitor.value()); // a call answered or given up
        }
        enqueue(ep.name(), monitor_msg{to_external(from), dest, our_ref(d.monitor), true});
        return;
      case k::down: {
        // A remote process monitored `from` under a ref of its own.
        std::optional<external_ref> theirs;
        {
          std::lock_guard lock(mutex_);
          auto it = inbound_monitors_.find(d.monitor.value());
          if (it != inbound_monitors_.end()) {
            theirs = it->second.ref;
            inbound_monitors_.erase(it);
          }
        }
        if (theirs)
          enqueue(ep.name(),
                  monitor_exit_msg{to_external(from), dest, *theirs, reason_to_term(d.reason)});
        return;
      }
      }
    } catch (const std::exception& e) {
      try {
        send_report(
            report_kind::error, pid(),
            fmt::format("otpp::dist::node {}: could not send to {}: {}", opts_.name, to, e.what()));
      } catch (...) { // NOLINT(bugprone-empty-catch): a report that cannot be made
      }
    }
  }

  // What is sent to `{Name, Node}` (a proxy of a by_name endpoint).
  void outgoing_named(peer_endpoint& ep, const pid& to, remote_delivery d) {
    using k = remote_delivery::kind;
    const atom name = ep.registered(remote::key_of(to));
    switch (d.what) {
    case k::message: {
      const auto e = message_types::find(d.message.type_name());
      std::optional<term> t;
      if (e)
        t = e->encode(d.message);
      if (!t) {
        report_unencodable(d.message.type_name(), to);
        return;
      }
      external_pid sender = to_external(this_or_null());
      if (e->how == message_types::form::cast) {
        t = term::tuple({term(atom("$gen_cast")), std::move(*t)});
      } else if (e->how == message_types::form::request) {
        const reply_to& rq = *d.message.requester();
        sender = to_external(rq.pid);
        t = start_call(ep, to, rq, name, std::move(*t));
      } else if (e->how == message_types::form::reply) {
        return; // a reply goes to a pid, never to a name
      }
      enqueue(ep.name(), reg_send_msg{sender, name, std::move(*t)});
      return;
    }
    case k::monitor:
    case k::demonitor: {
      const bool add = d.what == k::monitor;
      track_monitor(ep.name(), d.from, to, d.monitor.value(), add);
      if (!add) {
        std::lock_guard lock(mutex_);
        calls_out_.erase(d.monitor.value());
      }
      enqueue(ep.name(), monitor_msg{to_external(d.from), name, our_ref(d.monitor), !add});
      return;
    }
    case k::link:
      // Erlang links only to pids: the linker learns at once.
      if (d.from)
        remote::link_exit(d.from, to, exit_reason::noproc());
      return;
    default:
      send_report(report_kind::error, d.from,
                  fmt::format("otpp::dist::node {}: an exit signal to {} was dropped: exit "
                              "signals go to pids, not to registered names",
                              opts_.name, to));
      return;
    }
  }

  // A call to `to` (by pid or by name, `dest`): the caller monitors the
  // server under the call's tag (so its end or the connection's fails the
  // call) and the reply type is remembered; the message is
  // {'$gen_call', {From, Tag}, Request}.
  term start_call(peer_endpoint& ep, const pid& to, const reply_to& rq, process_id dest,
                  term request) {
    const external_pid caller = to_external(rq.pid);
    const external_ref tag = our_ref(rq.tag);
    {
      std::lock_guard lock(mutex_);
      calls_out_[rq.tag.value()] = std::string(remote::expecting_reply::current());
    }
    track_monitor(ep.name(), rq.pid, to, rq.tag.value(), true);
    enqueue(ep.name(), monitor_msg{caller, std::move(dest), tag, false});
    return term::tuple(
        {term(atom("$gen_call")), term::tuple({term(caller), term(tag)}), std::move(request)});
  }

  void report_unencodable(std::string_view type, const pid& to) {
    send_report(report_kind::error, this_or_null(),
                fmt::format("otpp::dist::node {}: a message of type {} to {} was dropped: "
                            "the type has no term mapping (give it an OTPP_TERM_TAG or "
                            "call otpp::register_message<T>())",
                            opts_.name, type, to));
  }

  external_ref our_ref(ref r) const {
    external_ref e;
    e.node = self_.name;
    e.creation = self_.creation;
    e.size = 3;
    e.words = {static_cast<std::uint32_t>(r.value() & 0x3ffff),
               static_cast<std::uint32_t>(r.value() >> 18),
               static_cast<std::uint32_t>(r.value() >> 50), 0, 0};
    return e;
  }
  std::optional<ref> ref_of_ours(const external_ref& e) const {
    if (e.node != self_.name || e.creation != self_.creation || e.size < 3)
      return std::nullopt;
    return ref(std::uint64_t{e.words[0]} | (std::uint64_t{e.words[1]} << 18) |
               (std::uint64_t{e.words[2]} << 50));
  }

  // Links and monitors that cross to each peer: what `noconnection` reaches.
  struct link_rec {
    pid local, remote;
  };
  struct monitor_rec {
    pid local, remote;
    std::uint64_t ref;
  };
  struct inbound_monitor {
    external_ref ref;
    pid local, remote;
  };
  void track_link(atom peer, const pid& local, const pid& rem, bool add) {
    std::lock_guard lock(mutex_);
    auto& v = links_[peer];
    auto it = std::find_if(v.begin(), v.end(),
                           [&](const link_rec& l) { return l.local == local && l.remote == rem; });
    if (add && it == v.end())
      v.push_back({local, rem});
    else if (!add && it != v.end())
      v.erase(it);
  }
  void track_monitor(atom peer, const pid& local, const pid& rem, std::uint64_t r, bool add) {
    std::lock_guard lock(mutex_);
    auto& v = monitors_[peer];
    if (add) {
      v.push_back({local, rem, r});
      return;
    }
    auto it = std::find_if(v.begin(), v.end(), [&](const monitor_rec& m) { return m.ref == r; });
    if (it != v.end())
      v.erase(it);
  }

  // -------------------------------------------------------------------------
  // Connections: a writer process (handshake, outgoing packets, ticks) and
  // a reader process on the same scheduler (so the socket stays on one
  // thread).
  // -------------------------------------------------------------------------
  struct outgoing_msg {
    control_msg m;
  };
  struct tick_now {};
  struct connection {
    pid writer;
    bool up = false;
  };

  // Queue `m` for `peer`, connecting first if needed (Erlang connects on
  // first use). Messages to a node that cannot be reached are dropped.
  void enqueue(atom peer, control_msg m) {
    pid writer;
    {
      std::lock_guard lock(mutex_);
      auto it = conns_.find(peer);
      if (it != conns_.end())
        writer = it->second.writer;
    }
    if (!writer)
      writer = spawn_connection(peer, std::nullopt);
    otpp::send(writer, outgoing_msg{std::move(m)});
  }

  pid spawn_connection(std::optional<atom> peer,
                       std::optional<boost::asio::ip::tcp::socket> accepted) {
    std::weak_ptr<node> weak = weak_from_this();
    auto sock = std::make_shared<std::optional<boost::asio::ip::tcp::socket>>(std::move(accepted));
    auto body = [weak, peer, sock] {
      if (auto n = weak.lock())
        n->run_connection(peer, std::move(*sock), std::move(n));
    };
    std::lock_guard lock(mutex_);
    if (peer) {
      auto it = conns_.find(*peer);
      if (it != conns_.end())
        return it->second.writer; // another sender started it meanwhile
    }
    const pid w = rt_->spawn(std::move(body), spawn_options{.trap_exit = true});
    if (peer)
      conns_[*peer] = connection{w, false};
    return w;
  }

  void run_connection(std::optional<atom> peer,
                      std::optional<boost::asio::ip::tcp::socket> accepted,
                      std::shared_ptr<node> keep) {
    const pid me = this_process::self();
    std::optional<channel> ch;
    try {
      if (accepted)
        ch.emplace(channel::accept(std::move(*accepted), self_, opts_.cookie));
      else
        ch.emplace(channel::connect(peer->name(), self_, opts_.cookie, opts_.epmd_port));
    } catch (const std::exception& e) {
      // As Erlang: what was sent is dropped, and the links and monitors
      // made meanwhile end with noconnection.
      if (peer)
        connection_lost(*peer, me, false);
      send_report(report_kind::error, me,
                  fmt::format("otpp::dist::node {}: connection {} {} failed: {}", opts_.name,
                              accepted ? "from" : "to",
                              peer ? std::string(peer->name()) : std::string("a peer"), e.what()));
      return;
    }
    const atom name = ch->peer().name;
    {
      std::lock_guard lock(mutex_);
      auto& c = conns_[name];
      if (c.writer && c.writer != me && accepted) {
        // Both sides connected at once: keep the one already there.
        ch->close();
        return;
      }
      c = connection{me, true};
    }
    notify_nodes(name, true);
    auto shared = std::make_shared<channel>(std::move(*ch));
    auto last_heard = std::make_shared<std::atomic<std::int64_t>>(now_ms());
    const unsigned sched = otpp::info(me).scheduler.value_or(0);
    const pid reader = otpp::spawn_link(
        [this, keep, shared, name, last_heard, creation = shared->peer().creation] {
          std::uint64_t packets = 0;
          for (;;) {
            std::optional<control_msg> m;
            try {
              m = shared->receive_or_tick();
            } catch (const boost::system::system_error& e) {
              // The peer closed the connection or the network failed: an
              // end, not a crash of ours.
              this_process::exit(exit_reason::user(
                  fmt::format("connection to {} closed: {}", name.name(), e.code().message())));
            }
            last_heard->store(now_ms());
            if (m)
              incoming(name, creation, std::move(*m));
            // A burst already read is parsed without waiting: let the
            // other processes of this scheduler run now and then.
            if (++packets % 256 == 0)
              this_process::yield();
          }
        },
        spawn_options{.scheduler = sched});
    // A tick out every net_ticktime / 4; a peer silent for net_ticktime is
    // dropped (Erlang's net_ticktime), however busy the sending side is.
    const auto ticktime = std::chrono::milliseconds(opts_.net_ticktime);
    const auto tick = ticktime / 4;
    auto next_tick = std::chrono::steady_clock::now() + tick;
    try {
      for (;;) {
        const auto left = next_tick - std::chrono::steady_clock::now();
        this_process::receive([&](outgoing_msg& o) { write_batch(*shared, o); },
                              [&](exit_message& x) {
                                // The reader ended (the peer closed, bad
                                // input), or stop / disconnect.
                                if (x.from == reader || !x.reason.is_normal())
                                  this_process::exit(x.reason);
                              },
                              after(std::max(left, decltype(left)::zero()), [] {}));
        if (std::chrono::steady_clock::now() >= next_tick) {
          if (now_ms() - last_heard->load() > ticktime.count())
            this_process::exit(exit_reason::user("net_tick_timeout"));
          shared->send_tick();
          next_tick = std::chrono::steady_clock::now() + tick;
        }
      }
    } catch (...) {
      shared->close();
      otpp::kill(reader);
      connection_lost(name, me, true);
      throw;
    }
  }

  // Write `first` and whatever else is queued (up to 64 KiB) in one write:
  // a burst of sends costs one system call, not one each.
  static void write_batch(channel& ch, outgoing_msg& first) {
    std::string out = ch.frame(first.m);
    while (out.size() < 65536) {
      auto more = this_process::receive_for<outgoing_msg>(std::chrono::milliseconds(0));
      if (!more)
        break;
      out += ch.frame(more->m);
    }
    ch.write(out);
    // A write that completes at once does not suspend: while senders keep
    // the mailbox full, let the other processes of this scheduler run.
    this_process::yield();
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // The connection to `peer` ended (or, `was_up` false, never came up):
  // noconnection to everything across it.
  void connection_lost(atom peer, const pid& writer, bool was_up) {
    std::vector<link_rec> links;
    std::vector<monitor_rec> monitors;
    std::vector<std::pair<std::uint64_t, inbound_monitor>> inbound;
    std::vector<pid> watching; // monitor_node
    {
      std::lock_guard lock(mutex_);
      auto it = conns_.find(peer);
      if (it == conns_.end() || it->second.writer != writer)
        return;
      conns_.erase(it);
      links.swap(links_[peer]);
      monitors.swap(monitors_[peer]);
      watching.swap(node_monitors_[peer]);
      for (const auto& m : monitors)
        calls_out_.erase(m.ref);
      for (auto i = inbound_monitors_.begin(); i != inbound_monitors_.end();) {
        auto* ep = static_cast<peer_endpoint*>(remote::endpoint_of(i->second.remote));
        if (ep != nullptr && ep->name() == peer) {
          inbound.emplace_back(i->first, i->second);
          i = inbound_monitors_.erase(i);
        } else {
          ++i;
        }
      }
    }
    for (const auto& l : links)
      remote::link_exit(l.local, l.remote, exit_reason::noconnection());
    for (const auto& m : monitors)
      remote::down(m.local, ref(m.ref), m.remote, exit_reason::noconnection());
    for (const auto& [ours, m] : inbound)
      remote::demonitor(m.local, m.remote, ref(ours));
    for (const pid& w : watching)
      otpp::send(w, nodedown{std::string(peer.name())});
    if (was_up)
      notify_nodes(peer, false);
  }

  void notify_nodes(atom peer, bool up) {
    std::vector<pid> watchers;
    {
      std::lock_guard lock(mutex_);
      watchers = node_watchers_;
    }
    if (up) // each pg scope here looks for its namesake there (OTP's pg on nodeup)
      for (const auto& [scope, name] : pg::scopes_on(*rt_))
        otpp::send(scope, pg::protocol::node_up{named(peer.name(), name)});
    for (const pid& w : watchers) {
      if (up)
        otpp::send(w, nodeup{std::string(peer.name())});
      else
        otpp::send(w, nodedown{std::string(peer.name())});
    }
  }

  // -------------------------------------------------------------------------
  // Incoming: control messages from a peer (on its reader process).
  // -------------------------------------------------------------------------
  void deliver_term(atom peer, const pid& to, const term& t) {
    if (!to)
      return;
    if (t.is_tuple() && t.size() == 2) {
      // The reply to a call of ours: {Tag, Reply}.
      if (const auto* r = t[0].get_if<external_ref>()) {
        if (auto tag = ref_of_ours(*r)) {
          std::optional<std::string> expected;
          {
            std::lock_guard lock(mutex_);
            auto it = calls_out_.find(tag->value());
            if (it != calls_out_.end())
              expected = it->second;
          }
          if (expected) {
            deliver_reply(peer, to, *tag, *expected, t[1]);
            return;
          }
        }
      }
      // A cast: {'$gen_cast', Request}.
      if (t[0].is_atom("$gen_cast")) {
        if (otpp::detail::deliver_pg(to, t[1], true))
          return;
        for (const auto& e : message_types::candidates(t[1]))
          if (e.deliver_cast(to, t[1]))
            return;
        otpp::send(to, cast_message<term>{t[1]});
        return;
      }
    }
    // A call: {'$gen_call', {From, Tag}, Request}.
    if (t.is_tuple() && t.size() == 3 && t[0].is_atom("$gen_call") && t[1].is_tuple() &&
        t[1].size() == 2 && t[1][0].get_if<external_pid>() != nullptr) {
      const reply_to from{from_external(*t[1][0].get_if<external_pid>()), make_ref()};
      {
        std::lock_guard lock(mutex_);
        calls_in_[from.tag.value()] = call_in{t[1][1], to};
        if (calls_in_.size() >= 2 * calls_in_swept_) {
          // Calls to servers that ended unanswered will never be answered.
          std::erase_if(calls_in_, [](const auto& c) {
            return otpp::info(c.second.server).status == otpp::process_status::exited;
          });
          calls_in_swept_ = std::max<std::size_t>(calls_in_.size(), 1024);
        }
      }
      for (const auto& e : message_types::candidates(t[2]))
        if (e.deliver_request(to, t[2], from))
          return;
      otpp::send(to, request<term>{from, t[2]});
      return;
    }
    if (otpp::detail::deliver_pg(to, t, false))
      return;
    for (const auto& e : message_types::candidates(t))
      if (e.deliver(to, t))
        return;
    otpp::send(to, t);
  }

  // The reply to a call made with call<R>: as a reply<R>, or the call
  // fails naming what came.
  void deliver_reply(atom peer, const pid& to, ref tag, const std::string& expected,
                     const term& value) {
    std::optional<message_types::entry> e =
        message_types::find(expected.empty() ? otpp::type_name<term>() : expected);
    if (e && e->deliver_reply(to, tag, value))
      return;
    pid server;
    {
      std::lock_guard lock(mutex_);
      for (const auto& m : monitors_[peer])
        if (m.ref == tag.value())
          server = m.remote;
    }
    track_monitor(peer, to, server, tag.value(), false);
    {
      std::lock_guard lock(mutex_);
      calls_out_.erase(tag.value());
    }
    if (server) {
      auto* sep = static_cast<peer_endpoint*>(remote::endpoint_of(server));
      if (sep->by_name())
        enqueue(peer, monitor_msg{to_external(to), sep->registered(remote::key_of(server)),
                                  our_ref(tag), true});
      else
        enqueue(peer, monitor_msg{to_external(to), to_external(server), our_ref(tag), true});
    }
    std::string text = to_string(value);
    if (text.size() > 200)
      text = text.substr(0, 200) + "...";
    remote::down(to, tag, server,
                 exit_reason::user(fmt::format("bad_reply: {} is not a {}", text,
                                               expected.empty() ? "term" : expected)));
  }

  pid local_of(const process_id& id) {
    if (const auto* e = std::get_if<external_pid>(&id))
      return from_external(*e);
    return otpp::whereis(std::string(std::get<atom>(id).name()));
  }

  void incoming(atom peer, std::uint32_t creation, control_msg m) {
    codec_scope scope(*this);
    std::visit(
        [&](auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, send_msg>) {
            deliver_term(peer, from_external(v.to), v.message);
          } else if constexpr (std::is_same_v<T, reg_send_msg>) {
            deliver_term(peer, otpp::whereis(std::string(v.to.name())), v.message);
          } else if constexpr (std::is_same_v<T, alias_send_msg>) {
            // Aliases are not ours to give: nothing to deliver to.
          } else if constexpr (std::is_same_v<T, link_msg>) {
            const pid local = from_external(v.to);
            const pid rem = from_external(v.from);
            if (local && remote::link(local, rem))
              track_link(peer, local, rem, true);
            else
              enqueue(peer, exit_msg{v.to, v.from, term(atom("noproc")), true});
          } else if constexpr (std::is_same_v<T, unlink_id_msg>) {
            if (v.ack)
              return;
            const pid local = from_external(v.to);
            const pid rem = from_external(v.from);
            if (local) {
              remote::unlink(local, rem);
              track_link(peer, local, rem, false);
            }
            enqueue(peer, unlink_id_msg{v.id, v.to, v.from, true});
          } else if constexpr (std::is_same_v<T, exit_msg>) {
            const pid local = from_external(v.to);
            if (!local)
              return;
            const pid rem = from_external(v.from);
            if (v.by_link) {
              track_link(peer, local, rem, false);
              remote::link_exit(local, rem, reason_from_term(v.reason));
            } else {
              remote::exit(local, rem, reason_from_term(v.reason));
            }
          } else if constexpr (std::is_same_v<T, monitor_msg>) {
            const pid rem = from_external(v.from);
            const pid local = local_of(v.to);
            if (v.demonitor) {
              std::optional<inbound_monitor> found;
              std::uint64_t ours = 0;
              {
                std::lock_guard lock(mutex_);
                for (auto it = inbound_monitors_.begin(); it != inbound_monitors_.end(); ++it)
                  if (it->second.ref == v.ref) {
                    ours = it->first;
                    found = it->second;
                    inbound_monitors_.erase(it);
                    break;
                  }
              }
              if (found)
                remote::demonitor(found->local, found->remote, ref(ours));
              return;
            }
            const std::uint64_t ours = make_ref().value();
            if (local) {
              std::lock_guard lock(mutex_);
              inbound_monitors_[ours] = inbound_monitor{v.ref, local, rem};
            }
            if (!local || !remote::monitor(local, rem, ref(ours))) {
              {
                std::lock_guard lock(mutex_);
                inbound_monitors_.erase(ours);
              }
              enqueue(peer, monitor_exit_msg{v.to, v.from, v.ref, term(atom("noproc"))});
            }
          } else if constexpr (std::is_same_v<T, spawn_request_msg>) {
            spawn_for(peer, v);
          } else if constexpr (std::is_same_v<T, spawn_reply_msg>) {
            // otpp sends no spawn requests: nothing waits for a reply.
          } else if constexpr (std::is_same_v<T, monitor_exit_msg>) {
            const pid local = from_external(v.to);
            const auto r = ref_of_ours(v.ref);
            if (!local || !r)
              return;
            pid rem;
            if (const auto* e = std::get_if<external_pid>(&v.from))
              rem = from_external(*e);
            else {
              std::lock_guard lock(mutex_);
              for (const auto& mr : monitors_[peer])
                if (mr.ref == r->value())
                  rem = mr.remote;
            }
            track_monitor(peer, local, rem, r->value(), false);
            {
              std::lock_guard lock(mutex_);
              calls_out_.erase(r->value()); // a call whose server ended
            }
            if (rem)
              remote::down(local, *r, rem, reason_from_term(v.reason));
          }
        },
        m);
    static_cast<void>(creation);
  }

  // SPAWN_REQUEST (rpc.hpp): the function runs in a process of its own,
  // linked to or monitored by the requester if it asked.
  struct spawn_go {};
  void spawn_for(atom peer, const spawn_request_msg& v) {
    const pid from = from_external(v.from);
    rpc_request rq = rpc_request::from(v);
    auto fn = rpcs_.find(rq.module, rq.function);
    const bool want_link = rq.link, want_monitor = rq.monitor, reply = rq.wants_reply();
    const pid local = rt_->spawn([fn = std::move(fn), rq = std::move(rq)] {
      this_process::receive([](spawn_go) {});
      run_rpc(fn, rq);
    });
    std::int64_t flags = 0;
    if (want_monitor && from) {
      const std::uint64_t ours = make_ref().value();
      {
        std::lock_guard lock(mutex_);
        inbound_monitors_[ours] = inbound_monitor{v.id, local, from};
      }
      remote::monitor(local, from, ref(ours));
      flags |= 2;
    }
    if (want_link && from) {
      remote::link(local, from);
      track_link(peer, local, from, true);
      flags |= 1;
    }
    otpp::send(local, spawn_go{});
    if (reply)
      enqueue(peer, spawn_reply_msg{v.id, v.from, flags, term(to_external(local))});
  }

  node_options opts_;
  runtime* rt_;
  node_identity self_;
  std::uint16_t port_ = 0;
  pid listener_;

  mutable std::mutex mutex_;
  std::map<atom, connection> conns_;
  std::map<std::pair<atom, std::uint32_t>, std::shared_ptr<peer_endpoint>> endpoints_;
  std::map<atom, std::shared_ptr<peer_endpoint>> name_endpoints_;
  std::map<std::uint64_t, pid> exported_; // local pids sent out, by number
  std::size_t exported_swept_ = 1024;
  std::map<atom, std::vector<link_rec>> links_;
  std::map<atom, std::vector<monitor_rec>> monitors_;
  std::map<std::uint64_t, inbound_monitor> inbound_monitors_; // by our ref
  std::vector<pid> node_watchers_;                            // monitor_nodes
  std::map<atom, std::vector<pid>> node_monitors_;            // monitor_node, one entry per call
  std::shared_ptr<pg_link> pg_link_;
  std::map<std::uint64_t, std::string> calls_out_; // our calls in flight: tag -> reply type
  struct call_in {
    term tag;   // the caller's
    pid server; // whom it called
  };
  std::map<std::uint64_t, call_in> calls_in_; // their calls in flight, by our tag
  std::size_t calls_in_swept_ = 1024;
  rpc_registry rpcs_; // register_rpc
};

} // namespace otpp::dist
