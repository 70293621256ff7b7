// --max-concurrent: a PprofBackend in front of the real one that lets at most N profile requests
// (CPU, heap, threads, block/mutex) run at once; one more fails at once with kUnavailable (503),
// a line naming the flag. Symbol lookups and cmdline are cheap and pass through.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "agent/http/pprof_backend.h"

namespace pprofd::http {

class ConcurrencyLimit : public PprofBackend {
 public:
  // `inner` is not owned and must outlive every request. Thread-safe: requests come from the HTTP
  // threads, completions from the profiler's.
  ConcurrencyLimit(PprofBackend* inner, int max_in_flight);

  void CpuProfile(const CpuProfileRequest& request, ProfileCallback done) override;
  void HeapProfile(const HeapProfileRequest& request, ProfileCallback done) override;
  void ThreadProfile(const ThreadProfileRequest& request, ProfileCallback done) override;
  void OffCpuProfile(const OffCpuProfileRequest& request, ProfileCallback done) override;
  void LookupSymbols(const std::vector<uint64_t>& addresses, SymbolCallback done) override;
  StatusOr<std::string> Cmdline() override;
  int default_hz() const override { return inner_->default_hz(); }
  int max_hz() const override { return inner_->max_hz(); }
  int max_seconds() const override { return inner_->max_seconds(); }

  int max_in_flight() const { return max_in_flight_; }
  // Profile requests admitted and not yet done.
  int in_flight() const { return counters_->in_flight.load(); }
  // Profile requests refused so far.
  uint64_t rejected() const { return counters_->rejected.load(); }

  struct Counters {
    std::atomic<int> in_flight{0};
    std::atomic<uint64_t> rejected{0};
  };

 private:
  // `done` wrapped to free its slot when called (or dropped uncalled); an empty callback when the
  // request was refused (then `done` has been answered already).
  ProfileCallback Admit(ProfileCallback& done);

  PprofBackend* const inner_;
  const int max_in_flight_;
  // Shared with the callbacks in flight, which may outlive this object.
  const std::shared_ptr<Counters> counters_;
};

}  // namespace pprofd::http
