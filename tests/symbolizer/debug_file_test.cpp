#include "symbolizer/debug_file.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "symbolizer/elf_file.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::CheckFullSymbolization;
using testing::CopyFile;
using testing::FixturePath;
using testing::OpenOrFail;
using testing::SymbolAddress;
using testing::TempDir;

const std::string kUnstripped = FixturePath("sym_fixture_pie_g");
const std::string kStripped = FixturePath("sym_fixture_pie_g.stripped");
const std::string kDebugLinked = FixturePath("debuglink/sym_fixture_pie_g.dbglink");
const std::string kDebug = FixturePath("debuglink/sym_fixture_pie_g.debug");

TEST_CASE("DebugLinkCrc32 is the IEEE CRC32", "[debug_file]") {
  CHECK(DebugLinkCrc32(0, "123456789", 9) == 0xcbf43926u);
  // Continuing in pieces gives the same result.
  CHECK(DebugLinkCrc32(DebugLinkCrc32(0, "1234", 4), "56789", 5) == 0xcbf43926u);
  CHECK(DebugLinkCrc32(0, "", 0) == 0);
}

TEST_CASE("Debug file through .gnu_debuglink in the same directory", "[debug_file]") {
  auto file = OpenOrFail(kDebugLinked);
  CheckFullSymbolization(*file, kUnstripped);
}

TEST_CASE("Debug file through .gnu_debuglink in .debug/", "[debug_file]") {
  TempDir dir;
  CopyFile(kDebugLinked, dir.path() / "bin/app");
  CopyFile(kDebug, dir.path() / "bin/.debug/sym_fixture_pie_g.debug");
  auto file = OpenOrFail((dir.path() / "bin/app").string());
  CheckFullSymbolization(*file, kUnstripped);
}

TEST_CASE("Debug file through .gnu_debuglink under <root>/usr/lib/debug/<dir>", "[debug_file]") {
  TempDir root;
  CopyFile(kDebugLinked, root.path() / "opt/app/bin/app");
  CopyFile(kDebug, root.path() / "usr/lib/debug/opt/app/bin/sym_fixture_pie_g.debug");
  auto file = OpenOrFail((root.path() / "opt/app/bin/app").string(), root.path().string());
  CheckFullSymbolization(*file, kUnstripped);
}

TEST_CASE("Debug file with a wrong CRC is ignored", "[debug_file]") {
  TempDir dir;
  CopyFile(kDebugLinked, dir.path() / "app");
  // Same name, different contents (the debug file of another build).
  CopyFile(FixturePath("sym_fixture_nopie_g"), dir.path() / "sym_fixture_pie_g.debug");
  auto file = OpenOrFail((dir.path() / "app").string());
  CHECK_FALSE(file->has_line_info());
  // Still symbolizes exported functions through .dynsym, and never with the wrong file's names.
  auto frames = file->Symbolize(SymbolAddress(kUnstripped, "marker_ns_body"));
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].function == "fixture_ns::NamespacedFunction(int)");
  CHECK(frames[0].file.empty());
}

TEST_CASE("Debug file through the build-id directory under the root", "[debug_file]") {
  auto plain = OpenOrFail(kStripped);
  REQUIRE_FALSE(plain->has_line_info());  // nothing under the real /usr/lib/debug
  const std::string& id = plain->build_id();
  REQUIRE(id.size() > 2);

  TempDir root;
  CopyFile(kDebug,
           root.path() / "usr/lib/debug/.build-id" / id.substr(0, 2) / (id.substr(2) + ".debug"));
  auto file = OpenOrFail(kStripped, root.path().string());
  CheckFullSymbolization(*file, kUnstripped);
  // .symtab of the debug file covers the static function that .dynsym lacks.
  CHECK(file->has_functions());
}

TEST_CASE("Build-id directory entry with another build-id is ignored", "[debug_file]") {
  auto plain = OpenOrFail(kStripped);
  const std::string& id = plain->build_id();
  TempDir root;
  CopyFile(FixturePath("sym_fixture_nopie_g"),
           root.path() / "usr/lib/debug/.build-id" / id.substr(0, 2) / (id.substr(2) + ".debug"));
  auto file = OpenOrFail(kStripped, root.path().string());
  CHECK_FALSE(file->has_line_info());
}

}  // namespace
}  // namespace pprofd::symbolizer
