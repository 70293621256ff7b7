#include "symbolizer/elf_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::CopyFile;
using testing::FixturePath;
using testing::TempDir;

TEST_CASE("ElfCache returns one ElfFile per file", "[elf_cache]") {
  ElfCache cache;
  auto a = cache.Get(FixturePath("sym_fixture_pie_g"), "");
  auto b = cache.Get(FixturePath("sym_fixture_pie_g"), "");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->get() == b->get());
  CHECK(cache.size() == 1);

  auto other = cache.Get(FixturePath("sym_fixture_nopie_g"), "");
  REQUIRE(other.ok());
  CHECK(other->get() != a->get());
  CHECK(cache.size() == 2);

  cache.Clear();
  CHECK(cache.size() == 0);
  auto again = cache.Get(FixturePath("sym_fixture_pie_g"), "");
  REQUIRE(again.ok());
  CHECK(again->get() != a->get());
}

TEST_CASE("ElfCache shares files with equal build-ids across paths", "[elf_cache]") {
  TempDir dir;
  CopyFile(FixturePath("sym_fixture_pie_g"), dir.path() / "copy");
  ElfCache cache;
  auto original = cache.Get(FixturePath("sym_fixture_pie_g"), "");
  auto copy = cache.Get((dir.path() / "copy").string(), "");
  REQUIRE(original.ok());
  REQUIRE(copy.ok());
  CHECK(original->get() == copy->get());
  CHECK(cache.size() == 2);  // two stat identities, one ElfFile
}

TEST_CASE("ElfCache remembers failures and sees replaced files", "[elf_cache]") {
  TempDir dir;
  std::string path = (dir.path() / "lib.so").string();
  { std::ofstream(path) << "not an ELF file"; }
  ElfCache cache;
  auto first = cache.Get(path, "");
  REQUIRE_FALSE(first.ok());
  CHECK(first.status().message().find(path) != std::string::npos);
  auto second = cache.Get(path, "");
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message() == first.status().message());
  CHECK(cache.size() == 1);

  // Replaced by a valid ELF file (new inode): opened, not the cached failure.
  std::filesystem::remove(path);
  CopyFile(FixturePath("sym_fixture_pie_nog"), path);
  auto replaced = cache.Get(path, "");
  REQUIRE(replaced.ok());
  CHECK(cache.size() == 2);

  auto missing = cache.Get((dir.path() / "missing.so").string(), "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("missing.so") != std::string::npos);
}

}  // namespace
}  // namespace pprofd::symbolizer
