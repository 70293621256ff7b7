// Names of the native-language workloads (tests/fixtures/native_langs), straight from ElfFile:
// every frame demangled as c++filt and rustc-demangle's alternate form print it, and the system
// name pprof matches a binary's own names with: the symbol table's name for the outermost frame,
// the DWARF linkage name for inline frames.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::OpenOrFail;
using testing::ReadSymbols;
using testing::TestSymbol;

std::string NativePath(const std::string& name) {
  return std::string(NATIVE_LANGS_DIR) + "/" + name;
}

// A fixture missing because its compiler was: a failure under CI, a warning elsewhere.
bool Built(const std::string& path, const std::string& package) {
  if (access(path.c_str(), R_OK) == 0) return true;
  const char* ci = std::getenv("CI");
  const std::string message = path + " was not built: install " + package + " and re-run cmake";
  if (ci != nullptr && std::string(ci) == "true") FAIL(message);
  WARN(message);
  return false;
}

// The function symbol whose name starts with `prefix` (a Rust hash or a GCC clone suffix follows).
TestSymbol SymbolStartingWith(const std::string& path, const std::string& prefix) {
  for (const TestSymbol& symbol : ReadSymbols(path)) {
    if (symbol.is_function && symbol.size > 0 && symbol.name.rfind(prefix, 0) == 0) return symbol;
  }
  FAIL(path << " has no function symbol starting with " << prefix);
  return {};
}

// The outermost frame at the entry of `symbol`.
SourceFrame EntryFrame(ElfFile& file, const TestSymbol& symbol) {
  std::vector<SourceFrame> frames = file.Symbolize(symbol.value);
  REQUIRE_FALSE(frames.empty());
  return frames.back();
}

// The first address of `symbol` whose innermost frame is `inline_name`, with its frames.
std::vector<SourceFrame> InlineChainIn(ElfFile& file, const TestSymbol& symbol,
                                       const std::string& inline_name) {
  for (uint64_t address = symbol.value; address < symbol.value + symbol.size; ++address) {
    std::vector<SourceFrame> frames = file.Symbolize(address);
    if (frames.size() >= 2 && frames.front().function == inline_name) return frames;
  }
  FAIL(symbol.name << " has no address inside " << inline_name);
  return {};
}

TEST_CASE("GCC's anonymous-namespace clones keep the symbol's name as system name",
          "[native_names]") {
  const std::string path = NativePath("gcc_zoo");
  auto file = OpenOrFail(path);
  // GCC gives static functions no DW_AT_linkage_name, and IPA-CP clones them: the DWARF name is
  // "Collatz", the symbol "_ZN12_GLOBAL__N_17CollatzEm.constprop.0". pprof's source view matches
  // the latter, as llvm-symbolizer and addr2line report it.
  TestSymbol collatz = SymbolStartingWith(path, "_ZN12_GLOBAL__N_17CollatzEm");
  SourceFrame frame = EntryFrame(*file, collatz);
  CHECK(frame.system_name == collatz.name);
  CHECK(frame.function.rfind("(anonymous namespace)::Collatz(unsigned long)", 0) == 0);

  TestSymbol squares = SymbolStartingWith(path, "_ZL12SumOfSquaresi");
  frame = EntryFrame(*file, squares);
  CHECK(frame.system_name == squares.name);
  CHECK(frame.function.rfind("SumOfSquares(int)", 0) == 0);
}

TEST_CASE("clang's C++ names: anonymous namespace, lambda, inline frame", "[native_names]") {
  const std::string path = NativePath("lld_zoo");
  if (!Built(path, "clang and lld")) return;
  auto file = OpenOrFail(path);
  TestSymbol collatz = SymbolStartingWith(path, "_ZN12_GLOBAL__N_17CollatzEm");
  SourceFrame frame = EntryFrame(*file, collatz);
  CHECK(frame.function == "(anonymous namespace)::Collatz(unsigned long)");
  CHECK(frame.system_name == "_ZN12_GLOBAL__N_17CollatzEm");

  TestSymbol lambda = SymbolStartingWith(path, "_ZZN3zoo4SortERSt6vectorImSaImEEmENK3$_0clEmm");
  frame = EntryFrame(*file, lambda);
  CHECK(frame.function ==
        "zoo::Sort(std::vector<unsigned long, std::allocator<unsigned long> >&, unsigned "
        "long)::$_0::operator()(unsigned long, unsigned long) const");
  CHECK(frame.system_name == lambda.name);

  TestSymbol hash = SymbolStartingWith(path, "_ZN3zoo4HashEmi");
  std::vector<SourceFrame> chain = InlineChainIn(*file, hash, "zoo::Mix(unsigned long)");
  REQUIRE(chain.size() == 2);
  CHECK(chain[0].system_name == "_ZN3zoo3MixEm");
  CHECK(chain[1].function == "zoo::Hash(unsigned long, int)");
  CHECK(chain[1].system_name == "_ZN3zoo4HashEmi");
}

TEST_CASE("Rust legacy names: no hash, no escapes, inline frames alike", "[native_names]") {
  const std::string path = NativePath("rustzoo");
  if (!Built(path, "rustc")) return;
  auto file = OpenOrFail(path);
  struct Expected {
    const char* symbol_prefix;
    const char* function;
  };
  for (const Expected& expected :
       {Expected{"_ZN7rustzoo8hash_mix17h", "rustzoo::hash_mix"},
        Expected{"_ZN7rustzoo15Matrix$LT$T$GT$3mul17h", "rustzoo::Matrix<T>::mul"},
        Expected{"_ZN52_$LT$rustzoo..Crc32$u20$as$u20$rustzoo..Checksum$GT$6update17h",
                 "<rustzoo::Crc32 as rustzoo::Checksum>::update"},
        Expected{"_ZN7rustzoo4text11count_words17h", "rustzoo::text::count_words"},
        // A name LLVM promoted to global, with its ".llvm.<n>" suffix in the symbol table only.
        Expected{"_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h",
                 "std::rt::lang_start::{{closure}}"}}) {
    TestSymbol symbol = SymbolStartingWith(path, expected.symbol_prefix);
    SourceFrame frame = EntryFrame(*file, symbol);
    INFO(symbol.name);
    CHECK(frame.function == expected.function);
    CHECK(frame.system_name == symbol.name);
  }
  TestSymbol hash_mix = SymbolStartingWith(path, "_ZN7rustzoo8hash_mix17h");
  std::vector<SourceFrame> chain = InlineChainIn(*file, hash_mix, "rustzoo::mix");
  CHECK(chain.front().system_name.rfind("_ZN7rustzoo3mix17h", 0) == 0);
  CHECK(chain.back().function == "rustzoo::hash_mix");
}

TEST_CASE("Rust v0 names: no crate disambiguators, inline frames alike", "[native_names]") {
  const std::string path = NativePath("rustzoo_v0");
  if (!Built(path, "rustc")) return;
  auto file = OpenOrFail(path);
  for (const auto& [mangled_part, function] : std::vector<std::pair<std::string, std::string>>{
           {"_7rustzoo8hash_mix", "rustzoo::hash_mix"},
           {"_6MatrixdE3mul", "<rustzoo::Matrix<f64>>::mul"},
           {"_8Checksum6update", "<rustzoo::Crc32 as rustzoo::Checksum>::update"},
           {"_7rustzoo4text11count_words", "rustzoo::text::count_words"}}) {
    TestSymbol symbol;
    for (const TestSymbol& s : ReadSymbols(path)) {
      if (s.is_function && s.size > 0 && s.name.rfind("_R", 0) == 0 &&
          s.name.find(mangled_part) != std::string::npos) {
        symbol = s;
      }
    }
    INFO(mangled_part);
    REQUIRE_FALSE(symbol.name.empty());
    SourceFrame frame = EntryFrame(*file, symbol);
    CHECK(frame.function == function);
    CHECK(frame.system_name == symbol.name);
  }
}

}  // namespace
}  // namespace pprofd::symbolizer
