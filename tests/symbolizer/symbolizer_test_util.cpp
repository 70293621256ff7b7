#include "tests/symbolizer/symbolizer_test_util.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "symbolizer/elf_file.h"

namespace pprofd::symbolizer::testing {

std::string FixturePath(const std::string& name) {
  return std::string(SYM_FIXTURE_DIR) + "/" + name;
}

namespace {

struct ElfReader {
  explicit ElfReader(const std::string& path) {
    elf_version(EV_CURRENT);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    elf = elf_begin(fd, ELF_C_READ, nullptr);
    REQUIRE(elf != nullptr);
  }
  ~ElfReader() {
    elf_end(elf);
    ::close(fd);
  }
  int fd = -1;
  Elf* elf = nullptr;
};

}  // namespace

std::vector<TestSymbol> ReadSymbols(const std::string& path, bool dynamic) {
  ElfReader reader(path);
  std::vector<TestSymbol> symbols;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(reader.elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    gelf_getshdr(scn, &shdr);
    if (shdr.sh_type != (dynamic ? SHT_DYNSYM : SHT_SYMTAB)) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 1; i < shdr.sh_size / shdr.sh_entsize; ++i) {
      GElf_Sym sym;
      gelf_getsym(data, static_cast<int>(i), &sym);
      const char* name = elf_strptr(reader.elf, shdr.sh_link, sym.st_name);
      if (name == nullptr || *name == '\0') continue;
      symbols.push_back(TestSymbol{name, sym.st_value, sym.st_size,
                                   GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_shndx != 0});
    }
  }
  return symbols;
}

uint64_t SymbolAddress(const std::string& path, const std::string& name) {
  for (const TestSymbol& symbol : ReadSymbols(path)) {
    if (symbol.name == name) return symbol.value;
  }
  FAIL("symbol " << name << " not found in " << path);
  return 0;
}

std::vector<TestSegment> ReadLoadSegments(const std::string& path) {
  ElfReader reader(path);
  size_t count = 0;
  REQUIRE(elf_getphdrnum(reader.elf, &count) == 0);
  std::vector<TestSegment> segments;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    gelf_getphdr(reader.elf, static_cast<int>(i), &phdr);
    if (phdr.p_type != PT_LOAD) continue;
    segments.push_back(
        TestSegment{phdr.p_offset, phdr.p_vaddr, phdr.p_filesz, (phdr.p_flags & PF_X) != 0});
  }
  return segments;
}

int64_t MarkerLine(const std::string& name) {
  std::ifstream source(SYM_FIXTURE_SOURCE);
  REQUIRE(source.good());
  std::string marker = "// LINE_MARKER_" + name;
  std::string line;
  int64_t number = 0;
  while (std::getline(source, line)) {
    ++number;
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    size_t end = at + marker.size();
    if (end == line.size() || line[end] == ' ') return number;
  }
  FAIL("marker " << name << " not found in " << SYM_FIXTURE_SOURCE);
  return 0;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

TempDir::TempDir() {
  char pattern[] = "/tmp/pprofd_symbolizer_test.XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void CopyFile(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::create_directories(to.parent_path());
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

constexpr char kSourceName[] = "symbolizer_fixture.cpp";

std::shared_ptr<ElfFile> OpenOrFail(const std::string& path, const std::string& root) {
  auto file = ElfFile::Open(path, root);
  INFO(path << ": " << file.status().message());
  REQUIRE(file.ok());
  return *file;
}

namespace {

void CheckFrame(const SourceFrame& frame, const std::string& function,
                const std::string& system_name, int64_t line, int64_t start_line) {
  INFO("frame " << frame.function << " " << frame.file << ":" << frame.line);
  CHECK(frame.function == function);
  CHECK(frame.system_name == system_name);
  CHECK(Basename(frame.file) == kSourceName);
  CHECK(frame.line == line);
  CHECK(frame.start_line == start_line);
}

}  // namespace

// Every function of the fixture with exact names, lines and the three-deep inline chain.
// `file` carries DWARF (itself or through a debug file); addresses come from `symbols_from`.
void CheckFullSymbolization(ElfFile& file, const std::string& symbols_from) {
  CHECK(file.has_functions());
  CHECK(file.has_line_info());

  auto ns = file.Symbolize(SymbolAddress(symbols_from, "marker_ns_body"));
  REQUIRE(ns.size() == 1);
  CheckFrame(ns[0], "fixture_ns::NamespacedFunction(int)", "_ZN10fixture_ns18NamespacedFunctionEi",
             MarkerLine("ns_body"), MarkerLine("ns_decl"));

  auto inlined = file.Symbolize(SymbolAddress(symbols_from, "marker_innermost"));
  REQUIRE(inlined.size() == 3);
  // GCC gives static functions that were inlined everywhere no linkage name.
  CheckFrame(inlined[0], "Innermost", "Innermost", MarkerLine("innermost_body"),
             MarkerLine("innermost_decl"));
  CheckFrame(inlined[1], "Middle", "Middle", MarkerLine("middle_calls_innermost"),
             MarkerLine("middle_decl"));
  CheckFrame(inlined[2], "Outer(int)", "_Z5Outeri", MarkerLine("outer_calls_middle"),
             MarkerLine("outer_decl"));

  auto helper = file.Symbolize(SymbolAddress(symbols_from, "marker_ns_helper"));
  REQUIRE(helper.size() == 2);
  // No linkage name: qualified from its scopes; the system name stays the DWARF name (pprof
  // would re-demangle a system name equal to the name, stripping parenthesized parts).
  CheckFrame(helper[0], "fixture_ns::NsHelper", "NsHelper", MarkerLine("ns_helper_body"),
             MarkerLine("ns_helper_decl"));
  CheckFrame(helper[1], "fixture_ns::CallsNsHelper(int)", "_ZN10fixture_ns13CallsNsHelperEi",
             MarkerLine("calls_ns_helper_call"), MarkerLine("calls_ns_helper_decl"));

  auto c = file.Symbolize(SymbolAddress(symbols_from, "marker_c_body"));
  REQUIRE(c.size() == 1);
  CheckFrame(c[0], "c_linkage_function", "c_linkage_function", MarkerLine("c_body"),
             MarkerLine("c_decl"));

  auto local = file.Symbolize(SymbolAddress(symbols_from, "marker_static_body"));
  REQUIRE(local.size() == 1);
  CheckFrame(local[0], "StaticFunction(int)", "_ZL14StaticFunctioni", MarkerLine("static_body"),
             MarkerLine("static_decl"));

  CHECK(file.Symbolize(0).empty());
  CHECK(file.Symbolize(~uint64_t{0} - 16).empty());
}

}  // namespace pprofd::symbolizer::testing
