#include "agent/kinds/heap/allocator/allocator_locator.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "base/log.h"
#include "tests/kinds/heap/allocator/binutils_reference.h"
#include "tests/kinds/heap/allocator/child_process.h"

namespace pprofd::heap {
namespace {

using std::chrono::milliseconds;
using testing::ChildProcess;

constexpr milliseconds kStartTimeout{10000};

std::map<pprofd_alloc_fn, uint64_t> OffsetsByFunction(const AllocatorProbes& probes) {
  std::map<pprofd_alloc_fn, uint64_t> offsets;
  for (const sampling::AllocatorProbe& probe : probes.probes) {
    CHECK(offsets.emplace(probe.fn, probe.file_offset).second);  // each function once
  }
  return offsets;
}

// The file offset of `name` in `file` per nm and readelf, not our reader.
uint64_t ReferenceOffset(const std::string& file, const std::string& name) {
  const std::optional<uint64_t> vaddr = testing::NmDynamicAddress(file, name);
  REQUIRE(vaddr.has_value());
  const std::optional<uint64_t> offset = testing::ReadelfFileOffset(file, *vaddr);
  REQUIRE(offset.has_value());
  return *offset;
}

bool AnyNoteContains(const AllocatorProbes& probes, const std::string& text) {
  return std::any_of(probes.notes.begin(), probes.notes.end(),
                     [&](const std::string& note) { return note.find(text) != std::string::npos; });
}

std::string AllNotes(const AllocatorProbes& probes) {
  std::string all;
  for (const std::string& note : probes.notes) all += note + "\n";
  return all;
}

TEST_CASE("a dynamically linked process allocates through libc") {
  ChildProcess child({"/bin/sleep", "30"});
  REQUIRE(child.WaitForMapping("libc.so.6", kStartTimeout));
  StatusOr<AllocatorProbes> probes = LocateAllocator(child.pid());
  INFO((probes.ok() ? std::string() : probes.status().message()));
  REQUIRE(probes.ok());
  INFO(AllNotes(*probes));

  const std::string libc = testing::RealPath("/lib/x86_64-linux-gnu/libc.so.6");
  CHECK(probes->module_path == libc);
  CHECK(probes->open_path == StrCat("/proc/", child.pid(), "/root", libc));
  CHECK_FALSE(probes->in_executable);
  CHECK(probes->build_id == testing::ReadelfBuildId(libc));
  CHECK(probes->build_id.size() == 40);

  std::map<pprofd_alloc_fn, uint64_t> offsets = OffsetsByFunction(*probes);
  CHECK(offsets[PPROFD_FN_MALLOC] == ReferenceOffset(libc, "malloc"));
  CHECK(offsets[PPROFD_FN_CALLOC] == ReferenceOffset(libc, "calloc"));
  CHECK(offsets[PPROFD_FN_REALLOC] == ReferenceOffset(libc, "realloc"));
  CHECK(offsets[PPROFD_FN_REALLOCARRAY] == ReferenceOffset(libc, "reallocarray"));
  CHECK(offsets[PPROFD_FN_POSIX_MEMALIGN] == ReferenceOffset(libc, "posix_memalign"));
  CHECK(offsets[PPROFD_FN_VALLOC] == ReferenceOffset(libc, "valloc"));
  CHECK(offsets[PPROFD_FN_PVALLOC] == ReferenceOffset(libc, "pvalloc"));
  CHECK(offsets[PPROFD_FN_FREE] == ReferenceOffset(libc, "free") + 9);
  CHECK(AnyNoteContains(*probes, "free probed at +9"));
  // glibc's aligned_alloc and memalign are one function: probed once.
  CHECK(ReferenceOffset(libc, "aligned_alloc") == ReferenceOffset(libc, "memalign"));
  CHECK(offsets[PPROFD_FN_ALIGNED_ALLOC] == ReferenceOffset(libc, "aligned_alloc"));
  CHECK(offsets.count(PPROFD_FN_MEMALIGN) == 0);
  CHECK(AnyNoteContains(*probes, "memalign shares its address"));
  CHECK(probes->probes.size() == 9);
}

TEST_CASE("an executable with its own allocator is probed in the executable") {
  ChildProcess child({OWN_MALLOC_WORKLOAD, "30"});
  REQUIRE(child.WaitForLine("ready", kStartTimeout));
  StatusOr<AllocatorProbes> probes = LocateAllocator(child.pid());
  REQUIRE(probes.ok());
  INFO(AllNotes(*probes));

  const std::string exe = testing::RealPath(OWN_MALLOC_WORKLOAD);
  CHECK(probes->in_executable);
  CHECK(probes->module_path == exe);
  CHECK(probes->build_id == testing::ReadelfBuildId(exe));
  std::map<pprofd_alloc_fn, uint64_t> offsets = OffsetsByFunction(*probes);
  CHECK(offsets.size() == PPROFD_FN_COUNT);  // the fixture defines all ten, at distinct addresses
  CHECK(offsets[PPROFD_FN_MALLOC] == ReferenceOffset(exe, "malloc"));
  CHECK(offsets[PPROFD_FN_CALLOC] == ReferenceOffset(exe, "calloc"));
  CHECK(offsets[PPROFD_FN_REALLOC] == ReferenceOffset(exe, "realloc"));
  CHECK(offsets[PPROFD_FN_MEMALIGN] == ReferenceOffset(exe, "memalign"));
  CHECK(offsets[PPROFD_FN_POSIX_MEMALIGN] == ReferenceOffset(exe, "posix_memalign"));
  // free may move past the entry only onto a push.
  const uint64_t free_entry = ReferenceOffset(exe, "free");
  CHECK(offsets[PPROFD_FN_FREE] >= free_entry);
  CHECK(offsets[PPROFD_FN_FREE] - free_entry <= 13);
}

TEST_CASE("the own-allocator fixture really runs on its allocator") {
  // Starts, keeps its live set, churns, exits cleanly: the process works on the executable's
  // malloc (libc, libstdc++ and the thread start-up included).
  ChildProcess child({OWN_MALLOC_WORKLOAD, "1", "now"});
  CHECK(child.WaitForLine("ready", kStartTimeout));
  CHECK(child.WaitForLine("allocated", kStartTimeout));
  int status = 0;
  REQUIRE(::waitpid(child.pid(), &status, 0) == child.pid());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a preloaded allocator library wins over libc") {
  const std::string library = testing::RealPath(PRELOAD_ALLOCATOR);
  ChildProcess child({"/bin/sleep", "30"}, {"LD_PRELOAD=" + library});
  REQUIRE(child.WaitForMapping("libc.so.6", kStartTimeout));
  REQUIRE(child.WaitForMapping(library, kStartTimeout));
  StatusOr<AllocatorProbes> probes = LocateAllocator(child.pid());
  REQUIRE(probes.ok());
  INFO(AllNotes(*probes));
  CHECK(probes->module_path == library);
  CHECK_FALSE(probes->in_executable);
  CHECK(AnyNoteContains(*probes, "is preloaded"));
  std::map<pprofd_alloc_fn, uint64_t> offsets = OffsetsByFunction(*probes);
  CHECK(offsets[PPROFD_FN_MALLOC] == ReferenceOffset(library, "malloc"));
  CHECK(offsets[PPROFD_FN_CALLOC] == ReferenceOffset(library, "calloc"));
}

TEST_CASE("a static binary without symbols gets a clear error") {
  ChildProcess child({STATIC_NOSYMS, "30"});
  REQUIRE(child.WaitForLine("ready", kStartTimeout));
  StatusOr<AllocatorProbes> probes = LocateAllocator(child.pid());
  REQUIRE_FALSE(probes.ok());
  const std::string expected =
      StrCat("target ", child.pid(), " (", testing::RealPath(STATIC_NOSYMS),
             ") defines no malloc and loads no library that does: a static binary without "
             "symbols, or a Go program? heap profiles need a C/C++ allocator whose symbols are "
             "visible");
  CHECK(probes.status().message() == expected);
}

#ifdef GO_SLEEPER
TEST_CASE("a Go program gets the same clear error") {
  ChildProcess child({GO_SLEEPER, "30"});
  REQUIRE(child.WaitForLine("ready", kStartTimeout));
  StatusOr<AllocatorProbes> probes = LocateAllocator(child.pid());
  REQUIRE_FALSE(probes.ok());
  CHECK_THAT(probes.status().message(),
             Catch::Contains("defines no malloc and loads no library that does"));
}
#endif

TEST_CASE("a process that is gone gets a clear error") {
  ChildProcess child({"/bin/sleep", "30"});
  REQUIRE(child.WaitForMapping("libc.so.6", kStartTimeout));
  const pid_t pid = child.pid();
  child.KillAndReap();
  StatusOr<AllocatorProbes> probes = LocateAllocator(pid);
  REQUIRE_FALSE(probes.ok());
  CHECK(probes.status().message() == StrCat("target ", pid, " is gone"));
  CHECK_FALSE(LocateAllocator(0).ok());
}

}  // namespace
}  // namespace pprofd::heap
