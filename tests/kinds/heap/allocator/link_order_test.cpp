#include "agent/kinds/heap/allocator/link_order.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace pprofd::heap {
namespace {

TEST_CASE("preload lists split on spaces and colons") {
  CHECK(SplitPreloadList("") == std::vector<std::string>{});
  CHECK(SplitPreloadList("/a.so") == std::vector<std::string>{"/a.so"});
  CHECK(SplitPreloadList(" /a.so:libb.so \n\t/c.so\n") ==
        std::vector<std::string>{"/a.so", "libb.so", "/c.so"});
}

TEST_CASE("environ values are found by exact name") {
  using namespace std::string_literals;
  const std::string environ = "PATH=/bin\0LD_PRELOAD_X=no\0LD_PRELOAD=/x.so /y.so\0HOME=/\0"s;
  CHECK(EnvironValue(environ, "LD_PRELOAD") == "/x.so /y.so");
  CHECK(EnvironValue(environ, "HOME") == "/");
  CHECK(EnvironValue(environ, "MISSING").empty());
  CHECK(EnvironValue("LD_PRELOAD", "LD_PRELOAD").empty());
}

// Maps order (ascending address), as a process with a preloaded allocator shows it: the exe,
// then libraries top-down in reverse load order.
std::vector<LinkedModule> SampleModules() {
  return {
      {"/usr/bin/app", "", {"libstdc++.so.6", "libc.so.6"}},                               // 0
      {"/usr/lib/x86_64-linux-gnu/libm.so.6", "libm.so.6", {"libc.so.6"}},                 // 1
      {"/usr/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6", {"ld-linux-x86-64.so.2"}},      // 2
      {"/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", "libstdc++.so.6", {"libm.so.6"}},  // 3
      {"/opt/lib/libjemalloc.so.2", "libjemalloc.so.2", {"libc.so.6"}},                    // 4
      {"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "ld-linux-x86-64.so.2", {}},      // 5
      {"/usr/lib/plugin.so", "", {}},                                                      // 6
      {"/usr/lib/other_plugin.so", "", {}},                                                // 7
  };
}

TEST_CASE("modules are found by path, soname or file name") {
  const std::vector<LinkedModule> modules = SampleModules();
  CHECK(FindModuleByName(modules, "libc.so.6") == 2);
  CHECK(FindModuleByName(modules, "libstdc++.so.6") == 3);
  CHECK(FindModuleByName(modules, "/opt/lib/libjemalloc.so.2") == 4);
  CHECK(FindModuleByName(modules, "plugin.so") == 6);
  // A path through a symlink: the soname decides.
  CHECK(FindModuleByName(modules, "/lib/x86_64-linux-gnu/libc.so.6") == 2);
  CHECK(FindModuleByName(modules, "libnothere.so") == std::string::npos);
  CHECK(FindModuleByName(modules, "") == std::string::npos);
}

TEST_CASE("search order: executable, preloads, DT_NEEDED breadth-first, then the rest") {
  const std::vector<LinkedModule> modules = SampleModules();
  // Without preloads: app, its needed (libstdc++, libc), theirs (libm, ld-linux), then the
  // unreached in reverse maps order (jemalloc was not preloaded here; plugins dlopen'ed).
  CHECK(GlobalSearchOrder(modules, 0, {}) == std::vector<size_t>{0, 3, 2, 1, 5, 7, 6, 4});
  // jemalloc preloaded: right after the executable, although it sits above libc in the maps.
  CHECK(GlobalSearchOrder(modules, 0, {4}) == std::vector<size_t>{0, 4, 3, 2, 1, 5, 7, 6});
  // A preload that is also needed appears once.
  CHECK(GlobalSearchOrder(modules, 0, {2, 2}) == std::vector<size_t>{0, 2, 3, 5, 1, 7, 6, 4});
}

}  // namespace
}  // namespace pprofd::heap
