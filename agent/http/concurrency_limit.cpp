#include "agent/http/concurrency_limit.h"

#include <string_view>
#include <utility>

#include "agent/http/pprof_routes.h"
#include "agent/http/query.h"
#include "base/log.h"

namespace pprofd::http {

namespace {

constexpr std::string_view kPrefix = "/debug/pprof/";

// One admitted request; frees its place once, when the response is sent or when the responder
// is destroyed unsent (a backend that drops a request must not leak the place).
class Slot {
 public:
  explicit Slot(std::shared_ptr<ConcurrencyLimit::Counters> counters)
      : counters_(std::move(counters)) {}
  ~Slot() { Release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  void Release() {
    if (!released_.exchange(true)) counters_->in_flight.fetch_sub(1);
  }

 private:
  const std::shared_ptr<ConcurrencyLimit::Counters> counters_;
  std::atomic<bool> released_{false};
};

bool IsProfileRequest(const Request& request) {
  StatusOr<RequestTarget> target =
      ParseRequestTarget(std::string_view(request.target().data(), request.target().size()));
  if (!target.ok() || !target->path.starts_with(kPrefix)) return false;
  return IsProfileEndpoint(std::string_view(target->path).substr(kPrefix.size()));
}

}  // namespace

ConcurrencyLimit::ConcurrencyLimit(RequestHandler inner, int max_in_flight)
    : inner_(std::move(inner)),
      max_in_flight_(max_in_flight),
      counters_(std::make_shared<Counters>()) {}

void ConcurrencyLimit::operator()(const Request& request, Respond respond) const {
  if (!IsProfileRequest(request)) return inner_(request, std::move(respond));
  if (counters_->in_flight.fetch_add(1) >= max_in_flight_) {
    counters_->in_flight.fetch_sub(1);
    counters_->rejected.fetch_add(1);
    return respond(PprofError(
        boost::beast::http::status::service_unavailable,
        StrCat("too many profile requests at once: ", max_in_flight_,
               " are in progress, the --max-concurrent limit; retry when one finishes, or raise "
               "--max-concurrent")));
  }
  auto slot = std::make_shared<Slot>(counters_);
  // A client that hangs up frees its place at once, whatever the backend still does with the
  // request. The registration lives as long as the responder.
  auto on_cancel = std::make_shared<Cancellation::Registration>(
      request.cancellation().OnCancel([slot](CancelReason) { slot->Release(); }));
  inner_(request, [slot, on_cancel, respond = std::move(respond)](Response response) {
    // Freed before answering, so a client that fetches again on receipt finds its place.
    slot->Release();
    respond(std::move(response));
  });
}

}  // namespace pprofd::http
