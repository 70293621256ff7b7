// Demangling of C++ (Itanium ABI) and Rust (legacy and v0) symbol names for display, with
// libiberty's demangler (the one binutils' c++filt and addr2line -C use).
#pragma once

#include <string>
#include <string_view>

namespace pprofd::symbolizer {

// C++: "_ZN2ns3fooEi" -> "ns::foo(int)", with parameters, as c++filt prints it.
// Rust, legacy and v0 alike, as rustc-demangle's alternate form ("{:#}") prints it: without the
// "::h<16 hex digits>" hash, crate disambiguators and ".llvm.<digits>" suffixes:
//   "_ZN7rustzoo15Matrix$LT$T$GT$3mul17h3830715784ef4fadE" -> "rustzoo::Matrix<T>::mul"
//   "_RNvMCs9GPqjNiwMNx_7rustzooINtB2_6MatrixdE3mulB2_"   -> "<rustzoo::Matrix<f64>>::mul"
// Names that are not mangled, or fail to demangle, come back as they are.
std::string Demangle(std::string_view name);

}  // namespace pprofd::symbolizer
