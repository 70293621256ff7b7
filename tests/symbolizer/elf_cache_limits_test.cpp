// The ElfCache's limits: files nobody but the cache holds (their module left the target's maps)
// are closed beyond max_idle_files, least recently used first; open files and mapped bytes never
// exceed their limits, files in use are never closed, and a closed file opens again when needed.
// Checked on the real descriptors of this process.
#include <dirent.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "symbolizer/elf_cache.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::FixturePath;
using testing::TempDir;

const std::string kFixture = "sym_fixture_pie_g";

int OpenFdCount() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  while (dirent* entry = ::readdir(dir)) count += entry->d_name[0] != '.' ? 1 : 0;
  ::closedir(dir);
  return count - 1;  // the directory being read
}

// Copies of the fixture, each with its own build-id (a counter written over the first bytes of
// NT_GNU_BUILD_ID), so the cache cannot share one ElfFile between them.
std::vector<std::string> DistinctCopies(const TempDir& dir, int count) {
  const std::string source = FixturePath(kFixture);
  std::ifstream in(source, std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string build_id = testing::OpenOrFail(source)->build_id();
  REQUIRE(build_id.size() >= 16);
  std::string id_bytes;
  for (size_t i = 0; i + 1 < build_id.size(); i += 2) {
    id_bytes.push_back(static_cast<char>(std::stoi(build_id.substr(i, 2), nullptr, 16)));
  }
  const size_t at = image.find(id_bytes);
  REQUIRE(at != std::string::npos);
  std::vector<std::string> paths;
  for (int i = 0; i < count; ++i) {
    const uint64_t counter = 0x5eed000000000000ull + static_cast<uint64_t>(i);
    std::memcpy(image.data() + at, &counter, sizeof(counter));
    const std::string path = (dir.path() / ("copy" + std::to_string(i) + ".so")).string();
    std::ofstream(path, std::ios::binary) << image;
    paths.push_back(path);
  }
  return paths;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

TEST_CASE("ElfCache closes idle files beyond its limit, least recently used first",
          "[elf_cache][limits]") {
  TempDir dir;
  const std::vector<std::string> paths = DistinctCopies(dir, 5);
  const int fds_before = OpenFdCount();
  ElfCache cache(ElfCacheLimits{
      .max_open_files = 16, .max_mapped_bytes = uint64_t{1} << 40, .max_idle_files = 2});
  std::vector<std::weak_ptr<ElfFile>> weak;
  {
    std::vector<std::shared_ptr<ElfFile>> held;  // the address space of a target mapping all 5
    for (const std::string& path : paths) {
      auto file = cache.Get(path, "");
      REQUIRE(file.ok());
      held.push_back(*file);
      weak.push_back(*file);
    }
    CHECK(held[0]->build_id() != held[1]->build_id());
    CHECK(cache.open_files() == 5);
    CHECK(cache.idle_files() == 0);
    CHECK(cache.mapped_bytes() == 5 * FileSize(paths[0]));
    cache.ReleaseIdle();
    CHECK(cache.open_files() == 5);  // all in use: none closed
    CHECK(OpenFdCount() >= fds_before + 5);
    cache.Touch(held[0].get());  // a profile just named frames of copy 0
  }
  // The target unmapped them all. Kept: copy 0 (touched last) and copy 4 (opened last).
  CHECK(cache.idle_files() == 5);
  cache.ReleaseIdle();
  CHECK(cache.open_files() == 2);
  CHECK(cache.idle_files() == 2);
  CHECK(cache.mapped_bytes() == 2 * FileSize(paths[0]));
  CHECK_FALSE(weak[0].expired());
  CHECK(weak[1].expired());
  CHECK(weak[2].expired());
  CHECK(weak[3].expired());
  CHECK_FALSE(weak[4].expired());
  CHECK(OpenFdCount() == fds_before + 2);

  // A closed file is opened again by identity when the target maps it again.
  auto again = cache.Get(paths[1], "");
  REQUIRE(again.ok());
  CHECK_FALSE((*again)->Symbolize(testing::SymbolAddress(paths[1], "main")).empty());
  // And a file still open is the same object.
  auto kept = cache.Get(paths[4], "");
  REQUIRE(kept.ok());
  CHECK(kept->get() == weak[4].lock().get());

  cache.Clear();
  again = Status::Error("dropped");
  kept = Status::Error("dropped");
  CHECK(OpenFdCount() == fds_before);
}

TEST_CASE("ElfCache never holds more files than its limit", "[elf_cache][limits]") {
  TempDir dir;
  const std::vector<std::string> paths = DistinctCopies(dir, 4);
  const int fds_before = OpenFdCount();
  ElfCache cache(ElfCacheLimits{
      .max_open_files = 3, .max_mapped_bytes = uint64_t{1} << 40, .max_idle_files = 8});
  std::vector<std::shared_ptr<ElfFile>> held;
  for (int i = 0; i < 3; ++i) {
    auto file = cache.Get(paths[i], "");
    REQUIRE(file.ok());
    held.push_back(*file);
  }
  // Three files in use: a fourth is refused, and the refusal says which limit and why.
  auto refused = cache.Get(paths[3], "");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find(paths[3]) != std::string::npos);
  CHECK(refused.status().message().find("3 files") != std::string::npos);
  CHECK(cache.refusals() == 1);
  CHECK(cache.open_files() == 3);
  CHECK(OpenFdCount() == fds_before + 3);

  // One of them left the maps: it is closed to make room, though idle files may be kept.
  std::weak_ptr<ElfFile> released = held[1];
  held.erase(held.begin() + 1);
  CHECK(cache.idle_files() == 1);
  auto admitted = cache.Get(paths[3], "");
  REQUIRE(admitted.ok());
  CHECK(released.expired());
  CHECK(cache.open_files() == 3);
  CHECK(cache.refusals() == 1);  // a refusal is not remembered as a failure
  CHECK(OpenFdCount() == fds_before + 3);
}

TEST_CASE("ElfCache keeps the bytes of files it maps under its limit", "[elf_cache][limits]") {
  TempDir dir;
  const std::vector<std::string> paths = DistinctCopies(dir, 3);
  const uint64_t size = FileSize(paths[0]);
  ElfCache cache(ElfCacheLimits{
      .max_open_files = 16, .max_mapped_bytes = size * 2 + size / 2, .max_idle_files = 8});
  auto first = cache.Get(paths[0], "");
  auto second = cache.Get(paths[1], "");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(cache.mapped_bytes() == 2 * size);
  auto third = cache.Get(paths[2], "");
  REQUIRE_FALSE(third.ok());
  CHECK(third.status().message().find("MiB") != std::string::npos);
  CHECK(cache.mapped_bytes() == 2 * size);

  first = Status::Error("unmapped");  // now idle: closed to make room
  third = cache.Get(paths[2], "");
  REQUIRE(third.ok());
  CHECK(cache.open_files() == 2);
  CHECK(cache.mapped_bytes() == 2 * size);
}

TEST_CASE("ElfCache counts one open file for copies sharing a build-id", "[elf_cache][limits]") {
  TempDir dir;
  const int fds_before = OpenFdCount();
  ElfCache cache(ElfCacheLimits{
      .max_open_files = 16, .max_mapped_bytes = uint64_t{1} << 40, .max_idle_files = 0});
  std::shared_ptr<ElfFile> first;
  for (int i = 0; i < 20; ++i) {
    const std::string path = (dir.path() / ("same" + std::to_string(i) + ".so")).string();
    testing::CopyFile(FixturePath(kFixture), path);
    auto file = cache.Get(path, "");
    REQUIRE(file.ok());
    if (!first) first = *file;
    CHECK(file->get() == first.get());
    std::filesystem::remove(path);  // as a plugin host unlinks its copy
  }
  CHECK(cache.open_files() == 1);
  CHECK(OpenFdCount() == fds_before + 1);
  // Lookups of the unlinked copies do not keep anything open once the file is let go.
  first.reset();
  cache.ReleaseIdle();
  CHECK(cache.open_files() == 0);
  CHECK(OpenFdCount() == fds_before);
}

}  // namespace
}  // namespace pprofd::symbolizer
