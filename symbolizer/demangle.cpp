#include "symbolizer/demangle.h"

// libiberty.h declares basename() unless told the C library already does; glibc's C++
// declaration in <string.h> would then conflict with it.
#define HAVE_DECL_BASENAME 1
#include <libiberty/demangle.h>

#include <cstdlib>
#include <memory>

namespace pprofd::symbolizer {
namespace {

std::string Take(char* demangled) {
  std::unique_ptr<char, decltype(&std::free)> owned(demangled, &std::free);
  return std::string(owned.get());
}

}  // namespace

std::string Demangle(std::string_view name) {
  // Only "_Z" (C++ and legacy Rust) and "_R" (Rust v0) names are mangled: the demanglers would
  // also "demangle" some plain words.
  if (name.size() < 3 || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R')) {
    return std::string(name);
  }
  std::string input(name);
  // Legacy Rust names are valid Itanium names too ("_ZN7rustzoo4main17h<hash>E" reads as
  // "rustzoo::main::h<hash>"), so Rust goes first: libiberty accepts a "_Z" name as Rust only when
  // it ends in Rust's hash, and unescapes "$LT$", "$u20$" and "..", drops the hash and any
  // ".llvm.<digits>" suffix. Without DMGL_VERBOSE it omits the hash and v0's crate
  // disambiguators, as rustc-demangle's alternate form does.
  if (char* rust = cplus_demangle(input.c_str(), DMGL_RUST)) return Take(rust);
  if (name[1] == 'Z') {
    if (char* cxx = cplus_demangle(input.c_str(), DMGL_GNU_V3 | DMGL_PARAMS | DMGL_ANSI)) {
      return Take(cxx);
    }
  }
  return input;
}

}  // namespace pprofd::symbolizer
