// Checks on a stack's function names, leaf first, as tests of several areas read them.
#pragma once

#include <string>
#include <vector>

namespace pprofd::testing {

// Whether some name contains `part` (names carry signatures and namespaces: match a substring).
inline bool AnyNameContains(const std::vector<std::string>& names, const std::string& part) {
  for (const std::string& name : names) {
    if (name.find(part) != std::string::npos) return true;
  }
  return false;
}

// "leaf <- caller <- ...", for test messages.
inline std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : " <- ") + name;
  return joined;
}

}  // namespace pprofd::testing
