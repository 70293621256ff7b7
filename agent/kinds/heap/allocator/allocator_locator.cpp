#include "agent/kinds/heap/allocator/allocator_locator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>

#include "agent/kinds/heap/allocator/elf_module.h"
#include "agent/kinds/heap/allocator/link_order.h"
#include "agent/kinds/heap/allocator/probe_offset.h"
#include "base/file_util.h"
#include "base/log.h"
#include "symbolizer/mapped_file.h"
#include "symbolizer/proc_maps.h"

namespace pprofd::heap {
namespace {

struct AllocatorFunction {
  pprofd_alloc_fn fn;
  std::string_view name;
};

// Enum order: when two names share one address (glibc's aligned_alloc and memalign), the first
// listed is the one probed.
constexpr std::array<AllocatorFunction, PPROFD_FN_COUNT> kFunctions = {{
    {PPROFD_FN_MALLOC, "malloc"},
    {PPROFD_FN_CALLOC, "calloc"},
    {PPROFD_FN_REALLOC, "realloc"},
    {PPROFD_FN_REALLOCARRAY, "reallocarray"},
    {PPROFD_FN_POSIX_MEMALIGN, "posix_memalign"},
    {PPROFD_FN_ALIGNED_ALLOC, "aligned_alloc"},
    {PPROFD_FN_MEMALIGN, "memalign"},
    {PPROFD_FN_VALLOC, "valloc"},
    {PPROFD_FN_PVALLOC, "pvalloc"},
    {PPROFD_FN_FREE, "free"},
}};

constexpr std::string_view kDeletedSuffix = " (deleted)";

// One file-backed module of the target with code mapped.
struct MappedModule {
  std::string path;       // as the target sees it, without " (deleted)"
  std::string open_path;  // as the agent opens it
  uint64_t inode = 0;
  bool deleted = false;
  std::optional<ElfModule> elf;  // empty when unreadable or not ELF
};

bool ProcessExists(pid_t pid) {
  struct stat st;
  return ::stat(StrCat("/proc/", pid).c_str(), &st) == 0;
}

Status Gone(pid_t pid) { return Status::Error(StrCat("target ", pid, " is gone")); }

std::string_view StripDeleted(std::string_view path, bool* deleted) {
  *deleted = path.size() > kDeletedSuffix.size() && path.ends_with(kDeletedSuffix);
  return *deleted ? path.substr(0, path.size() - kDeletedSuffix.size()) : path;
}

std::string Hex(uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

// Distinct modules with an executable mapping, in order of first appearance in the maps.
std::vector<MappedModule> CodeModules(pid_t pid, const std::vector<symbolizer::MapEntry>& maps) {
  std::vector<MappedModule> modules;
  std::map<std::string, size_t, std::less<>> index_by_path;
  const std::string root_link = symbolizer::TargetRootLink(pid);
  for (const symbolizer::MapEntry& entry : maps) {
    if (entry.path.empty() || entry.path[0] != '/') continue;
    if (index_by_path.contains(entry.path)) continue;
    // The first mapping of a module is its ELF header; only modules with code matter, but the
    // executable mapping comes later: look ahead for one with the same path.
    bool has_code = false;
    for (const symbolizer::MapEntry& other : maps) {
      if (other.path == entry.path && other.executable) {
        has_code = true;
        break;
      }
    }
    if (!has_code) continue;
    MappedModule module;
    module.path = std::string(StripDeleted(entry.path, &module.deleted));
    module.inode = entry.inode;
    // The very file mapped, whether the target is chrooted, in another mount namespace, or
    // runs a file deleted (upgraded on disk) since.
    std::optional<symbolizer::MappedFile> file =
        symbolizer::LocateMappedFile(pid, entry, root_link);
    module.open_path = file ? file->open_path : StrCat("/proc/", pid, "/root", module.path);
    index_by_path.emplace(entry.path, modules.size());
    modules.push_back(std::move(module));
  }
  return modules;
}

std::vector<std::string> PreloadEntries(pid_t pid) {
  std::vector<std::string> entries;
  StatusOr<std::string> environ = ReadFileToString(StrCat("/proc/", pid, "/environ"));
  if (environ.ok()) entries = SplitPreloadList(EnvironValue(*environ, "LD_PRELOAD"));
  StatusOr<std::string> preload_file =
      ReadFileToString(StrCat("/proc/", pid, "/root/etc/ld.so.preload"));
  if (preload_file.ok()) {
    for (std::string& entry : SplitPreloadList(*preload_file)) entries.push_back(std::move(entry));
  }
  return entries;
}

bool IsDynamicLinker(std::string_view path) {
  const size_t slash = path.rfind('/');
  return path.substr(slash == std::string_view::npos ? 0 : slash + 1).starts_with("ld-linux");
}

// The probes for `module`, or an error naming what is missing.
StatusOr<AllocatorProbes> BuildProbes(pid_t pid, const std::string& exe_path,
                                      const MappedModule& module, bool in_executable) {
  AllocatorProbes result;
  result.module_path = module.path;
  result.open_path = module.open_path;
  result.build_id = module.elf->build_id;
  result.in_executable = in_executable;
  const std::string target = StrCat("target ", pid, " (", exe_path, ")");

  std::map<uint64_t, std::string_view> probed_by_address;
  std::string absent;
  std::string single_stepped;
  for (const AllocatorFunction& function : kFunctions) {
    const bool required = function.fn == PPROFD_FN_MALLOC || function.fn == PPROFD_FN_FREE;
    auto found = module.elf->functions.find(function.name);
    if (found == module.elf->functions.end()) {
      if (required) {
        return Status::Error(StrCat(target, ": ", module.path, " defines malloc but no ",
                                    function.name,
                                    ", so sampled allocations could never be seen "
                                    "freed; heap profiles need an allocator with both"));
      }
      absent += absent.empty() ? "" : ", ";
      absent += function.name;
      continue;
    }
    const FunctionSymbol& symbol = found->second;
    if (symbol.ifunc) {
      // The symbol is the resolver; the implementation it picks is known only in the target.
      if (required) {
        return Status::Error(StrCat(target, ": ", function.name, " in ", module.path,
                                    " is an IFUNC, whose implementation is chosen at load time; "
                                    "pprofd cannot probe it yet"));
      }
      result.notes.push_back(StrCat(function.name, " is an IFUNC in ", module.path,
                                    ": not probed, its calls are not seen"));
      continue;
    }
    std::optional<uint64_t> offset = VaddrToFileOffset(module.elf->loads, symbol.vaddr);
    if (!offset) {
      if (required) {
        return Status::Error(StrCat(target, ": ", function.name, " at ", Hex(symbol.vaddr), " in ",
                                    module.path, " lies in no loadable segment: a damaged file?"));
      }
      result.notes.push_back(StrCat(function.name, " at ", Hex(symbol.vaddr),
                                    " lies in no loadable segment: not probed"));
      continue;
    }
    auto [shared, inserted] = probed_by_address.emplace(symbol.vaddr, function.name);
    if (!inserted) {
      // Same code, same arguments (aligned_alloc and memalign both take alignment, size): one
      // probe counts each call once.
      result.notes.push_back(StrCat(function.name, " shares its address ", Hex(symbol.vaddr),
                                    " with ", shared->second, ": probed once, as ",
                                    shared->second));
      continue;
    }
    const bool is_free = function.fn == PPROFD_FN_FREE;
    const uint64_t delta = ProbeOffsetWithin(symbol.code, /*allow_past_entry=*/is_free);
    result.probes.push_back({function.fn, *offset + delta});
    if (delta > 0) {
      result.notes.push_back(
          StrCat(function.name, " probed at +", delta,
                 " (a push, which uprobes emulate): its first instruction would be single-stepped, "
                 "~30x slower; the instructions skipped only return early for a null pointer"));
    } else if (EmulatedInstructionLength(symbol.code) == 0) {
      single_stepped += single_stepped.empty() ? "" : ", ";
      single_stepped += function.name;
    }
  }
  if (!single_stepped.empty()) {
    result.notes.push_back(
        StrCat("probed at an entry instruction uprobes single-step (~16 us per call instead "
               "of ~0.5 us for a push): ",
               single_stepped));
  }
  if (module.deleted) {
    result.notes.push_back(StrCat(module.path,
                                  " was deleted or replaced on disk since the target "
                                  "loaded it: probing the loaded copy through ",
                                  module.open_path));
  }
  if (!absent.empty()) {
    result.notes.push_back(StrCat("not defined by ", module.path, ", not probed: ", absent));
  }
  return result;
}

}  // namespace

StatusOr<AllocatorProbes> LocateAllocator(pid_t pid) {
  if (pid <= 0) return Status::Error(StrCat("target ", pid, " is not a valid pid"));
  const std::string proc = StrCat("/proc/", pid);
  if (!ProcessExists(pid)) return Gone(pid);

  char exe_buffer[4096];
  const ssize_t exe_length = ::readlink((proc + "/exe").c_str(), exe_buffer, sizeof(exe_buffer));
  const int exe_errno = errno;
  StatusOr<std::string> maps_text = ReadFileToString(proc + "/maps");
  if (!ProcessExists(pid)) return Gone(pid);
  if (!maps_text.ok()) {
    return Status::Error(StrCat("target ", pid, ": cannot read its memory maps (",
                                maps_text.status().message(),
                                "): run pprofd as root or with CAP_SYS_PTRACE"));
  }
  if (exe_length < 0) {
    if (exe_errno == ENOENT) {
      return Status::Error(StrCat("target ", pid,
                                  " has no executable: a kernel thread or a "
                                  "zombie? give the pid of a running user process"));
    }
    return ErrnoError(StrCat("target ", pid, ": readlink ", proc, "/exe"), exe_errno);
  }
  bool exe_deleted = false;
  const std::string exe_path(
      StripDeleted(std::string_view(exe_buffer, static_cast<size_t>(exe_length)), &exe_deleted));

  StatusOr<std::vector<symbolizer::MapEntry>> maps = symbolizer::ParseProcMaps(*maps_text);
  if (!maps.ok()) {
    return Status::Error(StrCat("target ", pid, ": ", maps.status().message()));
  }
  std::vector<MappedModule> modules = CodeModules(pid, *maps);
  if (modules.empty()) {
    if (!ProcessExists(pid)) return Gone(pid);
    return Status::Error(StrCat("target ", pid, " (", exe_path,
                                ") maps no code: a zombie or "
                                "kernel thread? give the pid of a running user process"));
  }

  struct stat exe_stat;
  const bool have_exe_stat = ::stat((proc + "/exe").c_str(), &exe_stat) == 0;
  size_t exe_index = modules.size();
  for (size_t i = 0; i < modules.size() && exe_index == modules.size(); ++i) {
    if (modules[i].path == exe_path) exe_index = i;
  }
  for (size_t i = 0; i < modules.size() && exe_index == modules.size() && have_exe_stat; ++i) {
    if (modules[i].inode == exe_stat.st_ino) exe_index = i;
  }
  if (exe_index == modules.size()) {
    return Status::Error(StrCat("target ", pid, " (", exe_path,
                                "): /proc/PID/exe matches none of its mapped files, so the "
                                "executable cannot be told from its libraries"));
  }

  std::vector<std::string_view> names;
  for (const AllocatorFunction& function : kFunctions) names.push_back(function.name);
  std::vector<LinkedModule> linked(modules.size());
  for (size_t i = 0; i < modules.size(); ++i) {
    StatusOr<ElfModule> elf = ReadElfModule(modules[i].open_path, names);
    if (!elf.ok()) {
      if (!ProcessExists(pid)) return Gone(pid);
      if (i == exe_index) {
        return Status::Error(
            StrCat("target ", pid, ": cannot read its executable: ", elf.status().message()));
      }
      LogDebug(
          StrCat("allocator locator: skipping ", modules[i].path, ": ", elf.status().message()));
      continue;
    }
    linked[i] = {modules[i].path, elf->soname, elf->needed};
    modules[i].elf = std::move(*elf);
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    if (!modules[i].elf) linked[i].path = modules[i].path;
  }

  std::vector<size_t> preloaded;
  for (const std::string& entry : PreloadEntries(pid)) {
    size_t index = FindModuleByName(linked, entry);
    if (index == std::string_view::npos) {
      // A path through a symlink the soname does not reveal: compare the files themselves.
      struct stat st;
      if (::stat(StrCat(proc, "/root", entry).c_str(), &st) == 0) {
        for (size_t i = 0; i < modules.size(); ++i) {
          if (modules[i].inode == st.st_ino) index = i;
        }
      }
    }
    if (index != std::string_view::npos) preloaded.push_back(index);
  }

  // The executable wins whenever it defines malloc, even without exporting it: its own calls go
  // there. Any other module must export it to receive the calls of the rest of the process.
  const ElfModule& exe_elf = *modules[exe_index].elf;
  if (auto malloc = exe_elf.functions.find("malloc"); malloc != exe_elf.functions.end()) {
    StatusOr<AllocatorProbes> probes = BuildProbes(pid, exe_path, modules[exe_index], true);
    if (probes.ok() && !malloc->second.exported && modules.size() > 1) {
      probes->notes.push_back(
          "malloc in the executable is not exported: calls from shared libraries (strdup, "
          "operator new in libstdc++) go to another allocator and are not seen");
    }
    return probes;
  }
  for (size_t index : GlobalSearchOrder(linked, exe_index, preloaded)) {
    const MappedModule& module = modules[index];
    if (index == exe_index || !module.elf || IsDynamicLinker(module.path)) continue;
    auto malloc = module.elf->functions.find("malloc");
    if (malloc == module.elf->functions.end() || !malloc->second.exported) continue;
    StatusOr<AllocatorProbes> probes = BuildProbes(pid, exe_path, module, false);
    if (probes.ok()) {
      for (size_t preload : preloaded) {
        if (preload == index) {
          probes->notes.push_back(StrCat(module.path,
                                         " is preloaded: it comes before the "
                                         "libraries the executable links"));
          break;
        }
      }
    }
    return probes;
  }
  return Status::Error(StrCat(
      "target ", pid, " (", exe_path,
      ") defines no malloc and loads no library that does: a static binary without symbols, or a "
      "Go program? heap profiles need a C/C++ allocator whose symbols are visible"));
}

}  // namespace pprofd::heap
