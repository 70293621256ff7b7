// pprofd's own metrics, served at /metrics in the Prometheus text format (version 0.0.4). Any
// thread may update them: the HTTP threads count requests, the profiler thread counts samples.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pprofd::metrics {

// Label name and value pairs, e.g. {{"endpoint", "profile"}, {"code", "200"}}. Keep the values
// of a label to a small fixed set: every distinct set of labels is a series Prometheus stores.
using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge };

class Registry {
 public:
  // Declares a metric family once (later calls are ignored); a family used without a declaration
  // renders without HELP and TYPE (untyped, which promtool's lint rejects: declare everything).
  // Counter names end in _total, by Prometheus convention.
  void Declare(std::string_view name, Type type, std::string_view help);
  bool Declared(std::string_view name);
  // Counters: adds `delta` (>= 0) to the series `labels` of `name`. A delta of 0 creates the
  // series at 0, so a counter shows before its first event (rate() then sees the first one).
  void Increment(std::string_view name, const Labels& labels = {}, double delta = 1);
  // Gauges (and counters kept elsewhere, copied in): sets the series to `value`.
  void Set(std::string_view name, const Labels& labels, double value);
  // The value of a series, if it exists (for tests and for code that reads back a gauge).
  std::optional<double> Get(std::string_view name, const Labels& labels = {});
  // Runs at every Render(), before rendering, on the rendering thread: for values read on demand
  // (the agent's RSS and CPU time). It may call Set/Increment; it must not call Render.
  void AddCollector(std::function<void(Registry&)> collector);
  // The text exposition format: families sorted by name, each with its HELP and TYPE lines, then
  // one line per series, series sorted by labels.
  std::string Render();

 private:
  struct Family {
    Type type = Type::kGauge;
    bool declared = false;
    std::string help;
    std::map<Labels, double> series;
  };

  std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mutex_
  std::vector<std::function<void(Registry&)>> collectors_;
};

// Turns readings of a counter kept elsewhere (a BPF map, a cache's hit count) into increments,
// so the exported counter never goes down when the source starts over (a sampler re-created for
// a restarted target): a reading below the previous one counts from zero.
class DeltaTracker {
 public:
  uint64_t Next(uint64_t reading) {
    const uint64_t delta = reading >= last_ ? reading - last_ : reading;
    last_ = reading;
    return delta;
  }

 private:
  uint64_t last_ = 0;
};

// The text format's escaping, exposed for tests: label values escape backslash, double quote and
// newline; HELP text escapes backslash and newline.
std::string EscapeLabelValue(std::string_view text);
std::string EscapeHelp(std::string_view text);
// Integers print exactly ("12345"), other values in the shortest form that reads back the same
// ("0.1", "1e+300"), and NaN/+Inf/-Inf as the format spells them.
std::string FormatValue(double value);

}  // namespace pprofd::metrics
