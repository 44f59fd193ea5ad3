// Awaiting handlers of a state machine: a handler that is a C++20
// coroutine (returning sm::task<R>) awaits I/O in the middle of its code
// while the machine keeps handling other events, and resumes with the
// machine's state and data as they are then.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/any_message.hpp>
#include <otpp/core/asio.hpp>
#include <otpp/core/blocking.hpp>

#include <boost/asio/deferred.hpp>

#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace otpp::sm {

namespace detail {

// What an await needs of the machine's loop.
struct pending_await;
class await_host {
public:
  // Record `a` until its completion; returns its id.
  virtual std::uint64_t add_await(pending_await& a) = 0;
  virtual void drop_await(std::uint64_t id) noexcept = 0;
  // How many changes of state the machine has made (a counter).
  virtual std::uint64_t changes() const noexcept = 0;

protected:
  await_host() = default;
  await_host(const await_host&) = default;
  await_host& operator=(const await_host&) = default;
  ~await_host() = default;
};

// One await in flight: its completion arrives as an io_result message with
// this tag, which the loop hands to `complete`.
struct await_tag {
  std::uint64_t id = 0;
};
struct pending_await {
  std::coroutine_handle<> waiter;
  std::uint64_t id = 0;
  // Take `m` if it is this await's completion.
  virtual bool complete(any_message& m) = 0;

protected:
  pending_await() = default;
  pending_await(const pending_await&) = delete;
  pending_await& operator=(const pending_await&) = delete;
  ~pending_await() = default;
};

template <class Sig> struct sig_args;
template <class... Args> struct sig_args<void(Args...)> {
  using tuple = std::tuple<std::decay_t<Args>...>;
  template <class Tag> using message = io_result<Tag, std::decay_t<Args>...>;
};

template <class Op> struct op_signature {
  static_assert(sizeof(Op) == 0,
                "otpp::sm: context::await(op): op must be an Asio operation started with "
                "boost::asio::deferred, e.g. cx.await(file.async_append(text, asio::deferred))");
};
template <class Sig, class Init, class... Args>
struct op_signature<boost::asio::deferred_async_operation<Sig, Init, Args...>> {
  using type = Sig;
};

template <class Op> class awaiter final : public pending_await {
  using sig = typename op_signature<Op>::type;
  using args = sig_args<sig>;

public:
  awaiter(Op op, await_host& host) : op_(std::move(op)), host_(&host) {}
  awaiter(awaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    id = host_->add_await(*this);
    try {
      std::move(op_)(otpp::to_mailbox(await_tag{id}));
    } catch (...) {
      host_->drop_await(id);
      throw;
    }
  }
  auto await_resume() { return otpp::detail::unpack_result(std::move(*result_)); }
  bool complete(any_message& m) override {
    auto* r = m.get_if<typename args::template message<await_tag>>();
    if (r == nullptr || r->tag.id != id)
      return false;
    result_.emplace(std::move(r->args));
    return true;
  }

private:
  Op op_;
  await_host* host_;
  std::optional<typename args::tuple> result_;
};

} // namespace detail

/// The result type of an awaiting handler: `sm::task<R>` where `R` is what
/// the handler `co_return`s (void, an action, keep_state(...),
/// next_state(s, ...), next<Targets...>, stop(...), as for any handler).
template <class R = void> class task {
public:
  struct promise_type {
    std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
    std::exception_ptr error;
    task get_return_object() {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
    template <class V>
    requires(!std::is_void_v<R>) void return_value(V&& v) { value.emplace(std::forward<V>(v)); }
  };

  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { reset(); }

  /// @cond internal
  bool done() const noexcept { return h_ && h_.done(); }
  std::coroutine_handle<> handle() const noexcept { return h_; }
  // The result (the handler's exception rethrown). Precondition: done().
  decltype(auto) take() {
    if (h_.promise().error)
      std::rethrow_exception(h_.promise().error);
    if constexpr (!std::is_void_v<R>)
      return std::move(*h_.promise().value);
  }
  /// @endcond

private:
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  void reset() noexcept {
    if (h_)
      h_.destroy();
    h_ = {};
  }
  std::coroutine_handle<promise_type> h_;
};

/// What an awaiting handler sees of its machine. Before the first
/// `co_await` the state is the one the handler was chosen for; after it,
/// other events may have been handled meanwhile: the state may have
/// changed (`state_changed()`, `state_if<S>()`) and the data may hold what
/// they left there. Never keep a reference to the state across a
/// `co_await`; read it again from here.
template <class Data, class... States> class context {
public:
  /// @cond internal
  context(std::variant<States...>& s, Data& d, detail::await_host& host)
      : state_(&s), data_(&d), host_(&host), at_start_(host.changes()) {}
  /// @endcond

  /// The machine's data now.
  Data& data() noexcept { return *data_; }
  /// The machine's state now.
  const std::variant<States...>& state() const noexcept { return *state_; }
  /// The state now if it is an `S`, else null.
  template <class S> S* state_if() noexcept { return std::get_if<S>(state_); }
  /// Whether the machine changed state since this handler started.
  bool state_changed() const noexcept { return host_->changes() != at_start_; }

  /// Await an Asio operation made with `boost::asio::deferred`
  /// (`cx.await(file.async_append(line, asio::deferred))`,
  /// `cx.await(timer.async_wait(asio::deferred))`): the handler is
  /// suspended, the machine handles other events, and the handler resumes
  /// when the operation completes, with its result (an error code first is
  /// thrown as `boost::system::system_error`, as `use_process` does).
  /// What the operation reads or writes must outlive it: otpp::file's
  /// `async_*` own their data; for other objects keep them in `Data`.
  template <class Op> auto await(Op op) {
    return detail::awaiter<std::decay_t<Op>>(std::move(op), *host_);
  }
  /// Await `f()` run on the runtime's blocking pool (`async_blocking_call`).
  /// `f` is moved there: capture by value, as the machine may stop first.
  template <class F> auto blocking(F f) {
    return await(otpp::async_blocking_call(std::move(f), boost::asio::deferred));
  }

private:
  std::variant<States...>* state_;
  Data* data_;
  detail::await_host* host_;
  std::uint64_t at_start_;
};

template <class T> inline constexpr bool is_task = false;
template <class R> inline constexpr bool is_task<task<R>> = true;

} // namespace otpp::sm
