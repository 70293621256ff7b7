#include "agent/target/target_threads.h"

#include <dirent.h>

#include <cstdlib>

#include "agent/target/thread_syscall.h"
#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::target {

std::vector<pid_t> ThreadIds(const TargetProcess& target) {
  std::vector<pid_t> tids;
  const std::string dir = StrCat("/proc/", target.pid(), "/task");
  DIR* tasks = ::opendir(dir.c_str());
  if (tasks == nullptr) return tids;
  while (dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    tids.push_back(static_cast<pid_t>(std::atol(entry->d_name)));
  }
  ::closedir(tasks);
  return tids;
}

StatusOr<ProcStat> ReadThreadStat(const TargetProcess& target, pid_t tid) {
  auto text = ReadFileToString(StrCat("/proc/", target.pid(), "/task/", tid, "/stat"));
  if (!text.ok()) return text.status();
  return ParseProcStat(*text);
}

bool IsSleeping(const TargetProcess& target, pid_t tid) {
  auto stat = ReadThreadStat(target, tid);
  return stat.ok() && (stat->state == 'S' || stat->state == 'D');
}

bool IsInFutexWait(const TargetProcess& target, pid_t tid) {
  auto call = ReadThreadSyscall(target.pid(), tid);
  return call && IsFutexWait(*call);
}

}  // namespace pprofd::target
