// One kind of profile (CPU, heap, threads, off-CPU) as the ProfilerHost drives it: a request
// comes in, the kind serves it at once or opens a window (agent/host/window_set.h), its BPF side
// is drained on the host's tick while attached, and every open window is finished early when the
// target exits or pprofd stops. The host knows kinds only through this interface, so a new kind
// is a new folder under agent/kinds/ and a line in the factory.
#pragma once

#include <string>
#include <vector>

#include "agent/http/pprof_backend.h"
#include "agent/metrics/registry.h"
#include "base/status.h"

namespace pprofd::host {

class ProfileKind {
 public:
  virtual ~ProfileKind() = default;

  // The request types it answers (block and mutex are one kind).
  virtual std::vector<std::string> types() const = 0;
  // Ok, or the one line saying why its profiles cannot be served for this target or on this
  // kernel; the host answers requests with it (501) and never calls Profile().
  virtual Status Available() const = 0;
  // Serves `request` now or opens a window; `done` is called exactly once. On the host's thread.
  virtual void Profile(const http::ProfileRequest& request, http::ProfileCallback done) = 0;
  // Whether its BPF side is attached: the host keeps draining while any kind is.
  virtual bool Attached() const = 0;
  // Consumes what its BPF side produced since the last call.
  virtual void Drain() = 0;
  // Answers every open window early, saying `reason` in its comments, and detaches for good.
  virtual void FinishAll(const std::string& reason) = 0;
  // Pushes its counters (losses, ...) to `registry`; called about once a second while attached,
  // and with `final` once more when draining stops.
  virtual void ReportMetrics(metrics::Registry& registry, bool final) {
    (void)registry;
    (void) final;
  }
};

}  // namespace pprofd::host
