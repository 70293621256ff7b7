#include "agent/app/demo_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>
#include <utility>

#include "base/log.h"
#include "base/scoped_fd.h"

namespace pprofd {
namespace {

std::string DemoPath() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "pprofd-demo";
  std::string dir(self, static_cast<size_t>(n));
  dir.resize(dir.rfind('/') + 1);
  return dir + "pprofd-demo";
}

}  // namespace

StatusOr<DemoProcess> DemoProcess::Start() {
  std::string path = DemoPath();
  if (::access(path.c_str(), X_OK) != 0) {
    return Status::Error(StrCat("no --pid given and the demo workload ", path,
                                " is missing: pass --pid PID of the process to profile"));
  }
  // The child reports a failed exec through this close-on-exec pipe; EOF means exec succeeded,
  // so /proc/PID/exe names the demo (not pprofd) by the time the target is opened.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe for demo workload", errno);
  ScopedFd read_end(exec_pipe[0]);
  ScopedFd write_end(exec_pipe[1]);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoError("fork demo workload", errno);
  if (pid == 0) {
    // The demo must not outlive pprofd, even if pprofd is killed with SIGKILL.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(0);
    // pprofd ignores SIGPIPE; an ignored signal would survive exec.
    ::signal(SIGPIPE, SIG_DFL);
    ::execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
    int err = errno;
    (void)!::write(write_end.get(), &err, sizeof(err));
    ::_exit(127);
  }
  write_end.Reset();
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(read_end.get(), &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    return ErrnoError(StrCat("exec demo workload ", path), exec_errno);
  }
  DemoProcess demo;
  demo.pid_ = pid;
  return demo;
}

DemoProcess::DemoProcess(DemoProcess&& other) noexcept : pid_(std::exchange(other.pid_, 0)) {}

DemoProcess::~DemoProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
}

}  // namespace pprofd
