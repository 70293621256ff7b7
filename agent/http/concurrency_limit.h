// --max-concurrent: request middleware, like authentication and the metrics routes, that lets at
// most N profile requests (/profile, /heap, /threads, /block, ... : the paths whose answer is a
// profile) run at once; one more is answered at once with 503 and a line naming the flag. The
// index, /symbol, /cmdline, /metrics and /healthz are cheap and pass through. A place is freed
// when the response is sent, when the responder is dropped, or at once when the client hangs up
// (the request's cancellation).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "agent/http/http_types.h"

namespace pprofd::http {

class ConcurrencyLimit {
 public:
  // Copies share one count, so the handler can be copied into the server. Thread-safe: requests
  // come from the HTTP threads, responses from the profiler's.
  ConcurrencyLimit(RequestHandler inner, int max_in_flight);

  void operator()(const Request& request, Respond respond) const;

  int max_in_flight() const { return max_in_flight_; }
  // Profile requests admitted and not yet answered.
  int in_flight() const { return counters_->in_flight.load(); }
  // Profile requests refused so far.
  uint64_t rejected() const { return counters_->rejected.load(); }

  struct Counters {
    std::atomic<int> in_flight{0};
    std::atomic<uint64_t> rejected{0};
  };

 private:
  RequestHandler inner_;
  int max_in_flight_;
  // Shared with the responses in flight, which may outlive every copy of the handler.
  std::shared_ptr<Counters> counters_;
};

}  // namespace pprofd::http
