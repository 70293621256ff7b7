// The order in which the dynamic linker searches the target's modules for a symbol (its global
// scope), rebuilt from files rather than from the target's memory: the executable, then the
// preloaded libraries (LD_PRELOAD, then /etc/ld.so.preload), then DT_NEEDED breadth-first.
// Ascending address order in /proc/PID/maps is NOT that order: libraries are mapped top-down, so
// a preloaded allocator sits above libc there.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pprofd::heap {

struct LinkedModule {
  std::string path;  // as the target sees it
  std::string soname;
  std::vector<std::string> needed;
};

// Splits LD_PRELOAD or /etc/ld.so.preload text into entries (separated by spaces, tabs,
// newlines or colons, as ld.so does).
std::vector<std::string> SplitPreloadList(std::string_view text);

// The value of `name` in /proc/PID/environ text (NUL-separated NAME=value), empty when absent.
std::string EnvironValue(std::string_view environ, std::string_view name);

// The module a DT_NEEDED or preload entry names: a name with a slash matches the path; a bare
// name matches the soname or the file name. npos when none.
size_t FindModuleByName(const std::vector<LinkedModule>& modules, std::string_view name);

// Indices of `modules` in search order: `executable`, then `preloaded` (indices, in order), then
// DT_NEEDED breadth-first from the executable and the preloaded libraries. Modules reached by
// none of these (dlopen'ed) follow, in reverse order of `modules` (maps order: later loads sit
// lower). Each index appears once.
std::vector<size_t> GlobalSearchOrder(const std::vector<LinkedModule>& modules, size_t executable,
                                      const std::vector<size_t>& preloaded);

}  // namespace pprofd::heap
