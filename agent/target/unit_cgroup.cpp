#include "agent/target/unit_cgroup.h"

#include <dirent.h>

#include <charconv>
#include <memory>
#include <unordered_set>

#include "agent/target/proc_stat.h"
#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::target {
namespace {

// system.slice/system-foo.slice/foo@bar.service is 3 levels; user slices nest deeper.
constexpr int kMaxDepth = 5;
// Bounds the walk of a host with many cgroups (containers, user sessions).
constexpr int kMaxDirectories = 4096;

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

std::string Search(const std::string& dir, const std::string& unit_file, int depth, int* budget) {
  std::unique_ptr<DIR, DirCloser> handle(opendir(dir.c_str()));
  if (!handle) return {};
  std::vector<std::string> children;
  while (dirent* entry = readdir(handle.get())) {
    if (entry->d_type != DT_DIR) continue;
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (name == unit_file) return dir + "/" + unit_file;
    // Units live in slices; a service's own subgroups (Delegate=) hold no other unit.
    if (name.ends_with(".slice")) children.emplace_back(name);
  }
  if (depth >= kMaxDepth) return {};
  for (const std::string& child : children) {
    if (--*budget < 0) return {};
    std::string found = Search(dir + "/" + child, unit_file, depth + 1, budget);
    if (!found.empty()) return found;
  }
  return {};
}

// The PIDs of `cgroup` and its subgroups (a service with Delegate=yes has some).
void CollectPids(const std::string& cgroup, int depth, std::vector<pid_t>* pids) {
  if (auto procs = ReadFileToString(cgroup + "/cgroup.procs"); procs.ok()) {
    std::string_view rest = *procs;
    while (!rest.empty()) {
      size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      pid_t pid = 0;
      auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
      if (ec == std::errc() && pid > 0) pids->push_back(pid);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  if (depth >= kMaxDepth) return;
  std::unique_ptr<DIR, DirCloser> handle(opendir(cgroup.c_str()));
  if (!handle) return;
  while (dirent* entry = readdir(handle.get())) {
    std::string_view name = entry->d_name;
    if (entry->d_type != DT_DIR || name == "." || name == "..") continue;
    CollectPids(cgroup + "/" + std::string(name), depth + 1, pids);
  }
}

}  // namespace

StatusOr<std::string> UnitFileName(std::string_view unit) {
  if (unit.empty() || unit == "." || unit == ".." || unit.find('/') != std::string_view::npos ||
      unit.find('\0') != std::string_view::npos) {
    return Status::Error(StrCat("'", unit, "' is not a unit name"));
  }
  if (unit.find('.') == std::string_view::npos) return StrCat(unit, ".service");
  return std::string(unit);
}

StatusOr<pid_t> PickUnitMainPid(const std::vector<UnitProcess>& processes) {
  std::unordered_set<pid_t> members;
  for (const UnitProcess& p : processes) members.insert(p.pid);
  pid_t main = 0;
  int roots = 0;
  for (const UnitProcess& p : processes) {
    if (members.count(p.ppid) != 0) continue;
    ++roots;
    main = p.pid;
  }
  if (roots == 0) return Status::Error("its cgroup holds no process");
  if (roots > 1) {
    return Status::Error(StrCat("its cgroup holds ", roots, " processes started apart"));
  }
  return main;
}

std::string FindUnitCgroup(const std::string& cgroup_root, const std::string& unit_file) {
  int budget = kMaxDirectories;
  return Search(cgroup_root, unit_file, 0, &budget);
}

StatusOr<pid_t> UnitMainPidFromCgroup(std::string_view unit) {
  auto unit_file = UnitFileName(unit);
  if (!unit_file.ok()) return unit_file.status();
  std::string cgroup;
  // cgroup v2 (Debian 11 and later); the named v1 hierarchy of hybrid and legacy hosts.
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/systemd"}) {
    cgroup = FindUnitCgroup(root, *unit_file);
    if (!cgroup.empty()) break;
  }
  if (cgroup.empty()) {
    return Status::Error(StrCat("no cgroup ", *unit_file, " under /sys/fs/cgroup"));
  }
  std::vector<pid_t> pids;
  CollectPids(cgroup, 0, &pids);
  std::vector<UnitProcess> processes;
  for (pid_t pid : pids) {
    auto text = ReadFileToString(StrCat("/proc/", pid, "/stat"));
    if (!text.ok()) continue;  // exited since
    auto stat = ParseProcStat(*text);
    if (!stat.ok() || stat->state == 'Z') continue;
    processes.push_back({pid, stat->ppid});
  }
  auto main = PickUnitMainPid(processes);
  if (!main.ok()) return Status::Error(StrCat(cgroup, ": ", main.status().message()));
  return main;
}

}  // namespace pprofd::target
