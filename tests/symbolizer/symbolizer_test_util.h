// Helpers for the symbolizer tests: fixture paths, symbol addresses read straight from the
// unstripped fixture with libelf (independently of the code under test), line markers read from
// the fixture's source, temporary directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "symbolizer/elf_file.h"

namespace pprofd::symbolizer::testing {

std::string FixturePath(const std::string& name);  // under SYM_FIXTURE_DIR

struct TestSymbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  bool is_function = false;
};
// Every named symbol of .symtab (or .dynsym when `dynamic`) of `path`.
std::vector<TestSymbol> ReadSymbols(const std::string& path, bool dynamic = false);
// The value of the symbol called `name` in .symtab of `path`; fails the test when absent.
uint64_t SymbolAddress(const std::string& path, const std::string& name);

struct TestSegment {
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t file_size = 0;
  bool executable = false;
};
std::vector<TestSegment> ReadLoadSegments(const std::string& path);

// The 1-based line of the fixture source holding the comment "// LINE_MARKER_<name>".
int64_t MarkerLine(const std::string& name);

std::string Basename(const std::string& path);

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Copies `from` to `to`, creating `to`'s parent directories.
void CopyFile(const std::filesystem::path& from, const std::filesystem::path& to);

// Opens `path`; fails the test (with the error) when it cannot.
std::shared_ptr<ElfFile> OpenOrFail(const std::string& path, const std::string& root = "");

// Checks every function of the fixture with exact names, lines and the three-deep inline chain.
// `file` must carry DWARF (itself or through a debug file); addresses come from the .symtab of
// `symbols_from` (an unstripped build of the same code).
void CheckFullSymbolization(ElfFile& file, const std::string& symbols_from);

}  // namespace pprofd::symbolizer::testing
