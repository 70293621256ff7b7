#include "agent/metrics/registry.h"

#include <cmath>
#include <cstdio>

namespace pprofd::metrics {
namespace {

// Label values escape backslash, double quote and newline; HELP text escapes backslash and
// newline (the text format's rules).
std::string Escape(std::string_view text, bool quote) {
  std::string out;
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

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Integers print exactly (counters of samples stay readable); others keep full precision.
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  }
  return buffer;
}

}  // namespace

void Registry::Declare(std::string_view name, Type type, std::string_view help) {
  std::lock_guard lock(mutex_);
  Family& family = families_[std::string(name)];
  if (family.declared) return;
  family.declared = true;
  family.type = type;
  family.help = std::string(help);
}

void Registry::Increment(std::string_view name, const Labels& labels, double delta) {
  std::lock_guard lock(mutex_);
  families_[std::string(name)].series[labels] += delta;
}

void Registry::Set(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  families_[std::string(name)].series[labels] = value;
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
  for (const auto& collect : collectors) collect(*this);

  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (family.declared) {
      out += "# HELP " + name + " " + Escape(family.help, false) + "\n";
      out += "# TYPE " + name + (family.type == Type::kCounter ? " counter\n" : " gauge\n");
    }
    for (const auto& [labels, value] : family.series) {
      out += name;
      if (!labels.empty()) {
        out += "{";
        for (size_t i = 0; i < labels.size(); ++i) {
          if (i > 0) out += ",";
          out += labels[i].first + "=\"" + Escape(labels[i].second, true) + "\"";
        }
        out += "}";
      }
      out += " " + FormatValue(value) + "\n";
    }
  }
  return out;
}

}  // namespace pprofd::metrics
