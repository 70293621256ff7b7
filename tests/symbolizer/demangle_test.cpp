#include "symbolizer/demangle.h"

#include <catch2/catch.hpp>

namespace pprofd::symbolizer {
namespace {

TEST_CASE("Demangle", "[demangle]") {
  CHECK(Demangle("_ZN10fixture_ns18NamespacedFunctionEi") == "fixture_ns::NamespacedFunction(int)");
  CHECK(Demangle("_ZL14StaticFunctioni") == "StaticFunction(int)");
  CHECK(Demangle("c_linkage_function") == "c_linkage_function");
  CHECK(Demangle("f") == "f");  // a word that __cxa_demangle alone would read as a type
  CHECK(Demangle("_Zgarbage") == "_Zgarbage");
  CHECK(Demangle("") == "");
}

}  // namespace
}  // namespace pprofd::symbolizer
