#include "agent/sampling/pid_namespace.h"

#include <sys/stat.h>

#include <cerrno>

namespace pprofd::sampling {
namespace {

// The inode number of the initial PID namespace (PROC_PID_INIT_INO): its ids are the kernel's.
constexpr uint64_t kInitPidNamespaceInode = 0xEFFFFFFCu;

}  // namespace

StatusOr<PidNamespace> AgentPidNamespace() {
  struct stat st;
  if (::stat("/proc/self/ns/pid", &st) != 0) return ErrnoError("stat /proc/self/ns/pid", errno);
  PidNamespace ns;
  ns.inode = st.st_ino;
  ns.is_initial = st.st_ino == kInitPidNamespaceInode;
  return ns;
}

}  // namespace pprofd::sampling
