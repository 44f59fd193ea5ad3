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
  void outgoing(peer_endpoint& ep, const pid& to, remote_delivery d) noexcept;

  // What is sent to `{Name, Node}` (a proxy of a by_name endpoint).
  void outgoing_named(peer_endpoint& ep, const pid& to, remote_delivery d);

  // A call to `to` (by pid or by name, `dest`): the caller monitors the
  // server under the call's tag (so its end or the connection's fails the
  // call) and the reply type is remembered; the message is
  // {'$gen_call', {From, Tag}, Request}.
  term start_call(peer_endpoint& ep, const pid& to, const reply_to& rq, process_id dest,
                  term request);

  void report_unencodable(std::string_view type, const pid& to);

  external_ref our_ref(ref r) const;
  std::optional<ref> ref_of_ours(const external_ref& e) const;

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
  void track_link(atom peer, const pid& local, const pid& rem, bool add);
  void track_monitor(atom peer, const pid& local, const pid& rem, std::uint64_t r, bool add);

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
  void enqueue(atom peer, control_msg m);

  pid spawn_connection(std::optional<atom> peer,
                       std::optional<boost::asio::ip::tcp::socket> accepted);

  void run_connection(std::optional<atom> peer,
                      std::optional<boost::asio::ip::tcp::socket> accepted,
                      std::shared_ptr<node> keep);

  // Write `first` and whatever else is queued (up to 64 KiB) in one write:
  // a burst of sends costs one system call, not one each.
  static void write_batch(channel& ch, outgoing_msg& first);

  static std::int64_t now_ms();

  // The connection to `peer` ended (or, `was_up` false, never came up):
  // noconnection to everything across it.
  void connection_lost(atom peer, const pid& writer, bool was_up);

  void notify_nodes(atom peer, bool up);

  // -------------------------------------------------------------------------
  // Incoming: control messages from a peer (on its reader process).
  // -------------------------------------------------------------------------
  void deliver_term(atom peer, const pid& to, const term& t);

  // The reply to a call made with call<R>: as a reply<R>, or the call
  // fails naming what came.
  void deliver_reply(atom peer, const pid& to, ref tag, const std::string& expected,
                     const term& value);

  pid local_of(const process_id& id);

  void incoming(atom peer, std::uint32_t creation, control_msg m);

  // SPAWN_REQUEST (rpc.hpp): the function runs in a process of its own,
  // linked to or monitored by the requester if it asked.
  struct spawn_go {};
  void spawn_for(atom peer, const spawn_request_msg& v);

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

// The members defined out of the class, by concept.
#include <otpp/dist/node_connections.hpp>
#include <otpp/dist/node_incoming.hpp>
#include <otpp/dist/node_outgoing.hpp>
