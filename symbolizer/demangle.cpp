#include "symbolizer/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace pprofd::symbolizer {

std::string Demangle(std::string_view name) {
  // Only "_Z" names are mangled; __cxa_demangle would also "demangle" plain words like "f" as
  // types.
  if (name.size() < 3 || name[0] != '_' || name[1] != 'Z') return std::string(name);
  std::string input(name);
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(input.c_str(), nullptr, nullptr, &status), &std::free);
  if (status != 0 || out == nullptr) return input;
  return std::string(out.get());
}

}  // namespace pprofd::symbolizer
