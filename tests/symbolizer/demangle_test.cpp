#include "symbolizer/demangle.h"

#include <catch2/catch.hpp>

namespace pprofd::symbolizer {
namespace {

TEST_CASE("Demangle C++ names as c++filt does", "[demangle]") {
  CHECK(Demangle("_ZN10fixture_ns18NamespacedFunctionEi") == "fixture_ns::NamespacedFunction(int)");
  CHECK(Demangle("_ZL14StaticFunctioni") == "StaticFunction(int)");
  CHECK(Demangle("_ZN12_GLOBAL__N_116ComputeChecksumsEi.constprop.0") ==
        "(anonymous namespace)::ComputeChecksums(int) [clone .constprop.0]");
  CHECK(Demangle("_ZN3zoo4GridIdE5RelaxEv") == "zoo::Grid<double>::Relax()");
  // A clang lambda: the closure type is "$_0".
  CHECK(Demangle("_ZZN3zoo4SortERSt6vectorImSaImEEmENK3$_0clEmm") ==
        "zoo::Sort(std::vector<unsigned long, std::allocator<unsigned long> >&, unsigned "
        "long)::$_0::operator()(unsigned long, unsigned long) const");
  // A GCC lambda, and std::string spelled short (as __cxa_demangle and c++filt without -v do).
  CHECK(Demangle("_ZZ4mainENKUlvE_clEv") == "main::{lambda()#1}::operator()() const");
  CHECK(Demangle("_Z3fooRKSs") == "foo(std::string const&)");
  // ThinLTO's promoted locals keep their suffix as a clone.
  CHECK(Demangle("_ZN2ns3fooEv.llvm.4242") == "ns::foo() [clone .llvm.4242]");
}

TEST_CASE("Demangle legacy Rust names without the hash", "[demangle]") {
  CHECK(Demangle("_ZN7rustzoo15Matrix$LT$T$GT$3mul17h3830715784ef4fadE") ==
        "rustzoo::Matrix<T>::mul");
  CHECK(
      Demangle("_ZN52_$LT$rustzoo..Crc32$u20$as$u20$rustzoo..Checksum$GT$6update17h7f052d93a11dd88"
               "2E") == "<rustzoo::Crc32 as rustzoo::Checksum>::update");
  CHECK(Demangle("_ZN86_$LT$alloc..vec..into_iter..IntoIter$LT$T$C$A$GT$$u20$as$u20$core..ops.."
                 "drop..Drop$GT$4drop17h2c6dcf54d59062b2E") ==
        "<alloc::vec::into_iter::IntoIter<T,A> as core::ops::drop::Drop>::drop");
  CHECK(Demangle("_ZN7rustzoo4main17h22d431f6c733685fE") == "rustzoo::main");
  // Closures are "{{closure}}", as std::any::type_name spells them in this mangling.
  CHECK(Demangle("_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h34340c7b84f4a43dE") ==
        "std::rt::lang_start::{{closure}}");
}

TEST_CASE("Demangle Rust names with an LLVM suffix", "[demangle]") {
  // ThinLTO and codegen units add ".llvm.<digits>" to names they promote to global.
  CHECK(Demangle("_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h34340c7b84f4a43dE.llvm."
                 "14239901065417788681") == "std::rt::lang_start::{{closure}}");
  CHECK(Demangle("_ZN4core3ops8function6FnOnce40call_once$u7b$$u7b$vtable.shim$u7d$$u7d$17hf16c04e"
                 "f295afddeE.llvm.14239901065417788681") ==
        "core::ops::function::FnOnce::call_once{{vtable.shim}}");
  CHECK(Demangle("_RNCINvNtCsjrHSEGnQ3l9_3std2rt10lang_startuE0Cs9GPqjNiwMNx_7rustzoo.llvm."
                 "7397705595195861771") == "std::rt::lang_start::<()>::{closure#0}");
}

TEST_CASE("Demangle Rust v0 names without crate disambiguators", "[demangle]") {
  // Inherent impls of generic types are "<Type<Args>>::method" in v0 (the instance is known).
  CHECK(Demangle("_RNvMCs9GPqjNiwMNx_7rustzooINtB2_6MatrixdE3mulB2_") ==
        "<rustzoo::Matrix<f64>>::mul");
  CHECK(Demangle("_RNvMCs9GPqjNiwMNx_7rustzooINtB2_6MatrixyE3mulB2_") ==
        "<rustzoo::Matrix<u64>>::mul");
  CHECK(Demangle("_RNvXs_Cs9GPqjNiwMNx_7rustzooNtB4_5Crc32NtB4_8Checksum6update") ==
        "<rustzoo::Crc32 as rustzoo::Checksum>::update");
  CHECK(Demangle("_RNvNtCs9GPqjNiwMNx_7rustzoo4text11count_words") == "rustzoo::text::count_words");
  CHECK(Demangle("_RINvNtCsgEmfK2I1SDS_4core3any16type_name_of_valNCNvCs9GPqjNiwMNx_7rustzoo4main"
                 "0EBN_") == "core::any::type_name_of_val::<rustzoo::main::{closure#0}>");
}

TEST_CASE("Demangle leaves other names alone", "[demangle]") {
  CHECK(Demangle("c_linkage_function") == "c_linkage_function");
  CHECK(Demangle("f") == "f");  // a word that a type demangler would read as "float"
  CHECK(Demangle("main") == "main");
  CHECK(Demangle("_Zgarbage") == "_Zgarbage");
  CHECK(Demangle("_Rgarbage") == "_Rgarbage");
  CHECK(Demangle("_R") == "_R");
  CHECK(Demangle("") == "");
  // Legacy-looking Rust without a valid hash is read as C++, as c++filt does.
  CHECK(Demangle("_ZN7rustzoo4mainE") == "rustzoo::main");
}

}  // namespace
}  // namespace pprofd::symbolizer
