#include "agent/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pprofd::metrics {
namespace {

std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view text) { return Escape(text, true); }
std::string EscapeHelp(std::string_view text) { return Escape(text, false); }

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Integers print exactly (counters of samples stay readable, not 1.2345e+06); the bound keeps
  // them below 2^53, where every integer is a double.
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
    return buffer;
  }
  // Shortest round-trip form, as Go's client prints (strconv 'g', -1): 0.1, not
  // 0.10000000000000001.
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) {
    std::snprintf(buffer, sizeof(buffer), "%.17g", value);
    return buffer;
  }
  return std::string(buffer, end);
}

void Registry::Declare(std::string_view name, Type type, std::string_view help) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family()).first;
  Family& family = it->second;
  if (family.declared) return;
  family.declared = true;
  family.type = type;
  family.help = std::string(help);
}

bool Registry::Declared(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  return it != families_.end() && it->second.declared;
}

void Registry::Increment(std::string_view name, const Labels& labels, double delta) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family()).first;
  it->second.series[labels] += delta;
}

void Registry::Set(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family()).first;
  it->second.series[labels] = value;
}

std::optional<double> Registry::Get(std::string_view name, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return std::nullopt;
  auto series = it->second.series.find(labels);
  if (series == it->second.series.end()) return std::nullopt;
  return series->second;
}

void Registry::AddCollector(std::function<void(Registry&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() {
  std::vector<std::function<void(Registry&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  // Outside the lock: collectors call Set.
  for (const auto& collect : collectors) collect(*this);

  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (family.declared) {
      out += "# HELP " + name + " " + EscapeHelp(family.help) + "\n";
      out += "# TYPE " + name + (family.type == Type::kCounter ? " counter\n" : " gauge\n");
    }
    for (const auto& [labels, value] : family.series) {
      out += name;
      if (!labels.empty()) {
        out += "{";
        for (size_t i = 0; i < labels.size(); ++i) {
          if (i > 0) out += ",";
          out += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
        }
        out += "}";
      }
      out += " " + FormatValue(value) + "\n";
    }
  }
  return out;
}

}  // namespace pprofd::metrics
