// Causal traces, exported: a tracer that records spans and message flows,
// and writes them as Chrome/Perfetto trace events (processes as tracks,
// work as slices, messages as flow arrows) or as OTLP/JSON spans (Jaeger,
// any OpenTelemetry collector).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/json_escape.hpp>
#include <otpp/core/pid.hpp>
#include <otpp/core/span_context.hpp>
#include <otpp/core/trace_event.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpp {

/// A span as recorded.
struct recorded_span {
  span_context context;
  std::uint64_t parent = 0; ///< the parent span's id (0: a root)
  pid process;              ///< who worked in it
  /// A trace_span's name, or the type of the message it began with
  /// ("call T" for a request of T; anonymous namespaces left out).
  std::string name;
  bool from_message = false; ///< begun by taking a message (else by a trace_span)
  bool from_request = false; ///< ... a request (otpp::request<T>): a call being served
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point end;
};

/// A message that carried a context, from its send to the receive that took it.
struct recorded_flow {
  std::uint64_t id = 0; ///< unique per message
  pid from;
  pid to;
  std::string message;         ///< its type (anonymous namespaces left out)
  span_context into;           ///< the span it was worked on in (trace id, span id)
  std::uint64_t from_span = 0; ///< the sender's span
  std::chrono::steady_clock::time_point sent;
  std::chrono::steady_clock::time_point taken;
};

struct trace_recorder_options {
  /// At most this many spans and as many flows are kept; later ones are
  /// counted in `dropped()`.
  std::size_t max_records = 1'000'000;
};

/// A tracer that keeps the spans and flows of causal traces (other events
/// are ignored) and exports them. Install it with `runtime::set_tracer`;
/// open a `trace_span` to start a trace.
///
/// @par Thread safety
/// Any thread; recording takes a mutex (only traced work pays it).
class trace_recorder : public tracer {
public:
  explicit trace_recorder(trace_recorder_options opts = {}) : opts_(opts) {}

  void on_event(const trace_event& ev) override {
    if (ev.kind == trace_kind::span) {
      recorded_span s;
      s.context = ev.span;
      s.parent = ev.parent;
      s.process = ev.subject;
      s.from_message = static_cast<bool>(ev.message);
      s.from_request = s.from_message && ev.message.type_name().starts_with("otpp::request<");
      s.name = s.from_message ? type_label(ev.what) : std::string(ev.what);
      s.start = ev.since;
      s.end = ev.at;
      std::lock_guard lock(mutex_);
      note_process(ev.subject, ev.detail);
      if (spans_.size() < opts_.max_records)
        spans_.push_back(std::move(s));
      else
        ++dropped_;
    } else if (ev.kind == trace_kind::flow) {
      recorded_flow f;
      f.id = ev.ref;
      f.from = ev.other;
      f.to = ev.subject;
      f.message = type_label(ev.message.type_name());
      f.into = ev.span;
      f.from_span = ev.parent;
      f.sent = ev.since;
      f.taken = ev.at;
      std::lock_guard lock(mutex_);
      note_process(ev.other, {});
      note_process(ev.subject, {});
      if (flows_.size() < opts_.max_records)
        flows_.push_back(std::move(f));
      else
        ++dropped_;
    }
  }

  std::vector<recorded_span> spans() const {
    std::lock_guard lock(mutex_);
    return spans_;
  }
  std::vector<recorded_flow> flows() const {
    std::lock_guard lock(mutex_);
    return flows_;
  }
  /// Spans and flows left out past `max_records`.
  std::size_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    spans_.clear();
    flows_.clear();
    names_.clear();
    dropped_ = 0;
  }

  /// The Chrome trace-event JSON format (Perfetto, `chrome://tracing`):
  /// one track per process ("thread" `tid` = its pid's number, named after
  /// the pid and its label or name), a complete event (`X`) per span with
  /// its ids in `args`, and per message a flow (`s` on the sender's track at
  /// the send, `f` bound to the slice that took it). Times in
  /// microseconds since the recorder's first span.
  std::string chrome_json() const {
    std::lock_guard lock(mutex_);
    const auto t0 = origin();
    auto us = [&](std::chrono::steady_clock::time_point t) {
      return fmt::format("{:.3f}", std::chrono::duration<double, std::micro>(t - t0).count());
    };
    std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
    bool first = true;
    auto open = [&] {
      if (!first)
        out += ",\n";
      first = false;
    };
    for (const auto& [number, name] : names_) {
      open();
      out += fmt::format(
          "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":\"",
          number);
      json_escape(out, name);
      out += "\"}}";
    }
    for (const recorded_span& s : spans_) {
      open();
      out += fmt::format("{{\"ph\":\"X\",\"cat\":\"{}\",\"name\":\"",
                         s.from_message ? "message" : "span");
      json_escape(out, s.name);
      out += fmt::format(
          "\",\"pid\":1,\"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{\"trace_id\":\"{}\","
          "\"span_id\":\"{}\",\"parent_span_id\":\"{:016x}\"}}}}",
          s.process.id(), us(s.start),
          fmt::format("{:.3f}", std::chrono::duration<double, std::micro>(s.end - s.start).count()),
          s.context.trace_id_hex(), s.context.span_id_hex(), s.parent);
    }
    for (const recorded_flow& f : flows_) {
      open();
      out += "{\"ph\":\"s\",\"cat\":\"message\",\"name\":\"";
      json_escape(out, f.message);
      out += fmt::format("\",\"id\":{},\"pid\":1,\"tid\":{},\"ts\":{}}},\n", f.id, f.from.id(),
                         us(f.sent));
      out += "{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"message\",\"name\":\"";
      json_escape(out, f.message);
      out += fmt::format("\",\"id\":{},\"pid\":1,\"tid\":{},\"ts\":{}}}", f.id, f.to.id(),
                         us(f.taken));
    }
    out += "\n]}\n";
    return out;
  }

  /// OTLP/JSON (`ExportTraceServiceRequest`, as an OpenTelemetry collector
  /// or Jaeger takes it on /v1/traces): one resource (`service.name`),
  /// spans with hex ids, times in Unix nanoseconds, kind SERVER for a span
  /// that served a call, CONSUMER for one begun by another message,
  /// INTERNAL for a trace_span; the process in attribute `otpp.pid`.
  std::string otlp_json(std::string_view service_name = "otpp") const {
    std::lock_guard lock(mutex_);
    // steady_clock times as Unix time: one offset, read now.
    const auto sys_now = std::chrono::system_clock::now();
    const auto steady_now = std::chrono::steady_clock::now();
    auto unix_ns = [&](std::chrono::steady_clock::time_point t) {
      const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(
          sys_now.time_since_epoch() - (steady_now - t));
      return d.count();
    };
    std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
                      "\"service.name\",\"value\":{\"stringValue\":\"";
    json_escape(out, service_name);
    out += "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"otpp\"},\"spans\":[\n";
    bool first = true;
    for (const recorded_span& s : spans_) {
      if (!first)
        out += ",\n";
      first = false;
      out += fmt::format("{{\"traceId\":\"{}\",\"spanId\":\"{}\",", s.context.trace_id_hex(),
                         s.context.span_id_hex());
      if (s.parent != 0)
        out += fmt::format("\"parentSpanId\":\"{:016x}\",", s.parent);
      out += "\"name\":\"";
      json_escape(out, s.name);
      const int kind = s.from_request ? 2 : s.from_message ? 5 : 1;
      out += fmt::format("\",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\","
                         "\"attributes\":[{{\"key\":\"otpp.pid\",\"value\":{{\"stringValue\":\"{}"
                         "\"}}}}]}}",
                         kind, unix_ns(s.start), unix_ns(s.end), s.process);
    }
    out += "\n]}]}]}\n";
    return out;
  }

  /// Write `chrome_json()` / `otlp_json()` to a file.
  /// @par Errors
  /// `std::runtime_error` naming the file if it cannot be written.
  void write_chrome_json(const std::string& path) const { write(path, chrome_json()); }
  void write_otlp_json(const std::string& path, std::string_view service_name = "otpp") const {
    write(path, otlp_json(service_name));
  }

  /// A message type as a span or flow names it: `otpp::request<T>` as
  /// "call T", without anonymous namespaces (as GCC and Clang spell them).
  static std::string type_label(std::string_view type) {
    std::string out(type);
    constexpr std::string_view request = "otpp::request<";
    if (out.starts_with(request) && out.ends_with('>'))
      out = "call " + out.substr(request.size(), out.size() - request.size() - 1);
    for (std::string_view anon :
         {std::string_view("{anonymous}::"), std::string_view("(anonymous namespace)::")})
      for (auto at = out.find(anon); at != std::string::npos; at = out.find(anon))
        out.erase(at, anon.size());
    return out;
  }

private:
  void note_process(const pid& p, std::string_view name) {
    auto [it, added] = names_.try_emplace(p.id());
    if (added || (!name.empty() && it->second.find(' ') == std::string::npos))
      it->second = name.empty() ? fmt::format("{}", p) : fmt::format("{} {}", p, name);
  }
  std::chrono::steady_clock::time_point origin() const {
    auto t0 = std::chrono::steady_clock::time_point::max();
    for (const recorded_span& s : spans_)
      t0 = std::min(t0, s.start);
    for (const recorded_flow& f : flows_)
      t0 = std::min(t0, f.sent);
    return t0 == std::chrono::steady_clock::time_point::max()
               ? std::chrono::steady_clock::time_point{}
               : t0;
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f)
      throw std::runtime_error(fmt::format("otpp::trace_recorder: cannot write {}", path));
  }

  trace_recorder_options opts_;
  mutable std::mutex mutex_;
  std::vector<recorded_span> spans_;
  std::vector<recorded_flow> flows_;
  std::map<std::uint64_t, std::string> names_; // pid number -> track name
  std::size_t dropped_ = 0;
};

} // namespace otpp
