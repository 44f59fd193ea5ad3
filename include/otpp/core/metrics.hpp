// Metrics: counters, gauges and histograms kept in a registry, written in
// the Prometheus text exposition format 0.0.4.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp {

/// Label names and values of one series, in order.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

/// A count that only grows. Any thread; an increment is one relaxed atomic add.
class metric_counter {
public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down. Any thread.
class metric_gauge {
public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0};
};

/// Observations counted in buckets by upper bound (a last bucket, +Inf,
/// takes the rest), with their sum. Any thread.
class metric_histogram {
public:
  /// `bounds`: increasing upper bounds.
  explicit metric_histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
      throw std::invalid_argument("otpp::metric_histogram: bucket bounds must increase");
  }
  void observe(double v) noexcept {
    const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                            bounds_.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  /// Cumulative counts, one per bound and then +Inf (the total).
  std::vector<std::uint64_t> cumulative() const {
    std::vector<std::uint64_t> out(counts_.size());
    std::uint64_t run = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i)
      out[i] = run += counts_[i].load(std::memory_order_relaxed);
    return out;
  }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

  /// Bounds from `start`, each `factor` times the last, `count` of them.
  static std::vector<double> exponential(double start, double factor, std::size_t count) {
    std::vector<double> out;
    for (double b = start; out.size() < count; b *= factor)
      out.push_back(b);
    return out;
  }

private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<double> sum_{0};
};

/// Writes metric families in the Prometheus text exposition format 0.0.4.
/// A family is its `# HELP` and `# TYPE` lines followed by its samples; a
/// collector writes whole families, each name once.
class metric_writer {
public:
  /// Start a family; `type`: "counter", "gauge", "histogram" or "untyped".
  void family(std::string_view name, std::string_view help, std::string_view type) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} ", name);
    for (char c : help) {
      if (c == '\\')
        out_ += "\\\\";
      else if (c == '\n')
        out_ += "\\n";
      else
        out_ += c;
    }
    fmt::format_to(std::back_inserter(out_), "\n# TYPE {} {}\n", name, type);
  }
  /// One sample of the current family (`name` may carry a suffix such as
  /// `_bucket`). `extra`: one more label after `labels` (histograms' `le`).
  void sample(std::string_view name, const metric_labels& labels, double value,
              const std::pair<std::string_view, std::string_view>* extra = nullptr) {
    out_ += name;
    if (!labels.empty() || extra != nullptr) {
      out_ += '{';
      bool first = true;
      auto label = [&](std::string_view k, std::string_view v) {
        if (!first)
          out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        for (char c : v) {
          if (c == '\\')
            out_ += "\\\\";
          else if (c == '"')
            out_ += "\\\"";
          else if (c == '\n')
            out_ += "\\n";
          else
            out_ += c;
        }
        out_ += '"';
      };
      for (const auto& [k, v] : labels)
        label(k, v);
      if (extra != nullptr)
        label(extra->first, extra->second);
      out_ += '}';
    }
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  /// The samples of one histogram series: buckets, sum and count.
  void histogram(std::string_view name, const metric_labels& labels,
                 const std::vector<double>& bounds, const std::vector<std::uint64_t>& cumulative,
                 double sum) {
    const std::string bucket = fmt::format("{}_bucket", name);
    for (std::size_t i = 0; i < cumulative.size(); ++i) {
      const std::string le = i < bounds.size() ? number(bounds[i]) : std::string("+Inf");
      const std::pair<std::string_view, std::string_view> extra{"le", le};
      sample(bucket, labels, static_cast<double>(cumulative[i]), &extra);
    }
    sample(fmt::format("{}_sum", name), labels, sum);
    sample(fmt::format("{}_count", name), labels,
           static_cast<double>(cumulative.empty() ? 0 : cumulative.back()));
  }

  /// A number as the format writes it (+Inf, -Inf, NaN, else the shortest
  /// decimal that reads back the same).
  static std::string number(double v) {
    if (std::isnan(v))
      return "NaN";
    if (std::isinf(v))
      return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
  }

  const std::string& text() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

private:
  std::string out_;
};

/// True if `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
inline bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty())
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  return true;
}

/// True if `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not
/// starting with `__`, which Prometheus keeps for itself).
inline bool valid_label_name(std::string_view name) noexcept {
  if (name.find(':') != std::string_view::npos || name.substr(0, 2) == "__")
    return false;
  return valid_metric_name(name);
}

/// Named metrics of a program, and collectors that compute theirs when the
/// registry is written out. Every runtime has one (`runtime::metrics()`),
/// with the runtime's own metrics as its first collector.
///
/// The same name with the same labels gives the same metric, whatever
/// thread asks; a name asked again with another type or help text throws
/// `std::invalid_argument`, as do invalid names. Metrics live as long as
/// the registry: keep the reference, look-ups take a lock.
///
/// @par Thread safety
/// Any thread.
class metric_registry {
public:
  metric_counter& counter(std::string_view name, std::string_view help,
                          const metric_labels& labels = {}) {
    return series<metric_counter>(name, help, kind::counter, labels, {});
  }
  metric_gauge& gauge(std::string_view name, std::string_view help,
                      const metric_labels& labels = {}) {
    return series<metric_gauge>(name, help, kind::gauge, labels, {});
  }
  metric_histogram& histogram(std::string_view name, std::string_view help,
                              const metric_labels& labels, std::vector<double> bounds) {
    return series<metric_histogram>(name, help, kind::histogram, labels, std::move(bounds));
  }

  /// Add `f`, called each time the registry is written out, to write whole
  /// families of its own (names it must not share with registered metrics).
  /// Returns a key for `remove_collector`.
  std::uint64_t add_collector(std::function<void(metric_writer&)> f) {
    std::lock_guard lock(mutex_);
    collectors_.emplace(++next_key_, std::move(f));
    return next_key_;
  }
  void remove_collector(std::uint64_t key) {
    std::lock_guard lock(mutex_);
    collectors_.erase(key);
  }

  /// Whether behaviours time what they do for their histograms (call
  /// latency per server); off by default: it costs two clock reads a call.
  /// `runtime::enable_timing_metrics()` turns it on with the schedulers'
  /// wall time.
  bool timings() const noexcept { return timings_.load(std::memory_order_relaxed); }
  void set_timings(bool on) noexcept { timings_.store(on, std::memory_order_relaxed); }

  /// Everything, in the text exposition format 0.0.4: the collectors'
  /// families first, then the registered ones in the order of their first
  /// registration.
  std::string render() {
    metric_writer w;
    std::lock_guard lock(mutex_);
    for (auto& [key, f] : collectors_)
      f(w);
    for (auto& fam : families_) {
      w.family(fam.name, fam.help, kind_name(fam.type));
      for (auto& s : fam.series) {
        if (fam.type == kind::counter)
          w.sample(fam.name, s.labels, static_cast<double>(s.counter->value()));
        else if (fam.type == kind::gauge)
          w.sample(fam.name, s.labels, s.gauge->value());
        else
          w.histogram(fam.name, s.labels, s.histogram->bounds(), s.histogram->cumulative(),
                      s.histogram->sum());
      }
    }
    return w.take();
  }

private:
  enum class kind { counter, gauge, histogram };
  static const char* kind_name(kind k) noexcept {
    return k == kind::counter ? "counter" : k == kind::gauge ? "gauge" : "histogram";
  }
  struct one_series {
    metric_labels labels;
    std::unique_ptr<metric_counter> counter;
    std::unique_ptr<metric_gauge> gauge;
    std::unique_ptr<metric_histogram> histogram;
  };
  struct family_entry {
    std::string name, help;
    kind type;
    std::deque<one_series> series;
  };

  template <class M>
  M& series(std::string_view name, std::string_view help, kind type, const metric_labels& labels,
            std::vector<double> bounds) {
    if (!valid_metric_name(name))
      throw std::invalid_argument(fmt::format("otpp::metric_registry: invalid name '{}'", name));
    for (const auto& [k, v] : labels)
      if (!valid_label_name(k) || (type == kind::histogram && k == "le"))
        throw std::invalid_argument(
            fmt::format("otpp::metric_registry: invalid label name '{}' of {}", k, name));
    std::unique_ptr<metric_histogram> made; // checks its bounds before anything changes
    if constexpr (std::is_same_v<M, metric_histogram>)
      made = std::make_unique<metric_histogram>(std::move(bounds));
    std::lock_guard lock(mutex_);
    auto fam = std::find_if(families_.begin(), families_.end(),
                            [&](const family_entry& f) { return f.name == name; });
    if (fam == families_.end()) {
      families_.push_back({std::string(name), std::string(help), type, {}});
      fam = std::prev(families_.end());
    } else if (fam->type != type || fam->help != help) {
      throw std::invalid_argument(
          fmt::format("otpp::metric_registry: {} is already a {} with another help text or type",
                      name, kind_name(fam->type)));
    }
    for (auto& s : fam->series)
      if (s.labels == labels)
        return pick<M>(s);
    one_series& s = fam->series.emplace_back();
    s.labels = labels;
    if constexpr (std::is_same_v<M, metric_counter>)
      s.counter = std::make_unique<metric_counter>();
    else if constexpr (std::is_same_v<M, metric_gauge>)
      s.gauge = std::make_unique<metric_gauge>();
    else
      s.histogram = std::move(made);
    return pick<M>(s);
  }
  template <class M> static M& pick(one_series& s) {
    if constexpr (std::is_same_v<M, metric_counter>)
      return *s.counter;
    else if constexpr (std::is_same_v<M, metric_gauge>)
      return *s.gauge;
    else
      return *s.histogram;
  }

  std::mutex mutex_;
  std::deque<family_entry> families_;
  std::map<std::uint64_t, std::function<void(metric_writer&)>> collectors_;
  std::uint64_t next_key_ = 0;
  std::atomic<bool> timings_{false};
};

} // namespace otpp
