// pprofd's own metrics, served at /metrics in the Prometheus text format (version 0.0.4). Any
// thread may update them: the HTTP threads count requests, the profiler thread counts samples.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pprofd::metrics {

// Label name and value pairs, e.g. {{"endpoint", "profile"}, {"code", "200"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge };

class Registry {
 public:
  // Declares a metric family once (later calls are ignored); a family used without a declaration
  // renders as untyped. Counter names end in _total, by Prometheus convention.
  void Declare(std::string_view name, Type type, std::string_view help);
  // Counters: adds `delta` (>= 0) to the series `labels` of `name`.
  void Increment(std::string_view name, const Labels& labels = {}, double delta = 1);
  // Gauges (and counters kept elsewhere, copied in): sets the series to `value`.
  void Set(std::string_view name, const Labels& labels, double value);
  // Runs at every Render(), before rendering, on the rendering thread: for values read on demand
  // (the agent's RSS and CPU time).
  void AddCollector(std::function<void(Registry&)> collector);
  // The text exposition format: HELP and TYPE lines, then one line per series.
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

}  // namespace pprofd::metrics
