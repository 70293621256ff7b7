#include "agent/http/concurrency_limit.h"

#include <utility>

#include "base/log.h"

namespace pprofd::http {

namespace {

// One admitted request; frees its place once, when the callback runs or is destroyed uncalled
// (a backend that drops a request must not leak the place).
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

}  // namespace

ConcurrencyLimit::ConcurrencyLimit(PprofBackend* inner, int max_in_flight)
    : inner_(inner), max_in_flight_(max_in_flight), counters_(std::make_shared<Counters>()) {}

ProfileCallback ConcurrencyLimit::Admit(ProfileCallback& done) {
  if (counters_->in_flight.fetch_add(1) >= max_in_flight_) {
    counters_->in_flight.fetch_sub(1);
    counters_->rejected.fetch_add(1);
    done(Status::Error(StrCat("too many profile requests at once: ", max_in_flight_,
                              " are in progress, the --max-concurrent limit; retry when one "
                              "finishes, or raise --max-concurrent")),
         BackendErrorKind::kUnavailable);
    return {};
  }
  auto slot = std::make_shared<Slot>(counters_);
  return [slot, done = std::move(done)](StatusOr<std::string> result, BackendErrorKind kind) {
    // Freed before answering, so a client that fetches again on receipt finds its place.
    slot->Release();
    done(std::move(result), kind);
  };
}

void ConcurrencyLimit::CpuProfile(const CpuProfileRequest& request, ProfileCallback done) {
  if (ProfileCallback admitted = Admit(done)) inner_->CpuProfile(request, std::move(admitted));
}

void ConcurrencyLimit::HeapProfile(const HeapProfileRequest& request, ProfileCallback done) {
  if (ProfileCallback admitted = Admit(done)) inner_->HeapProfile(request, std::move(admitted));
}

void ConcurrencyLimit::ThreadProfile(const ThreadProfileRequest& request, ProfileCallback done) {
  if (ProfileCallback admitted = Admit(done)) inner_->ThreadProfile(request, std::move(admitted));
}

void ConcurrencyLimit::OffCpuProfile(const OffCpuProfileRequest& request, ProfileCallback done) {
  if (ProfileCallback admitted = Admit(done)) inner_->OffCpuProfile(request, std::move(admitted));
}

void ConcurrencyLimit::LookupSymbols(const std::vector<uint64_t>& addresses, SymbolCallback done) {
  inner_->LookupSymbols(addresses, std::move(done));
}

StatusOr<std::string> ConcurrencyLimit::Cmdline() { return inner_->Cmdline(); }

}  // namespace pprofd::http
