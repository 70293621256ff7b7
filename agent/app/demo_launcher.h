// Starts the bundled demo workload (pprofd-demo, installed next to pprofd) when no --pid is given,
// and stops it when pprofd exits.
#pragma once

#include <sys/types.h>

#include "base/status.h"

namespace pprofd {

class DemoProcess {
 public:
  static StatusOr<DemoProcess> Start();
  DemoProcess(DemoProcess&& other) noexcept;
  DemoProcess& operator=(DemoProcess&&) = delete;
  ~DemoProcess();  // SIGTERM, then reap
  pid_t pid() const { return pid_; }

 private:
  DemoProcess() = default;
  pid_t pid_ = 0;
};

}  // namespace pprofd
