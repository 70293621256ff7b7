// Demangling of C++ (Itanium ABI) names for display.
#pragma once

#include <string>
#include <string_view>

namespace pprofd::symbolizer {

// "_ZN2ns3fooEi" -> "ns::foo(int)". Names that are not mangled, or fail to demangle, come back as
// they are.
std::string Demangle(std::string_view name);

}  // namespace pprofd::symbolizer
