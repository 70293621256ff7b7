// A PprofBackend that answers from its own threads after a delay, as the real one answers from
// its worker: the one place a fake is right (the real backend needs BPF; e2e tests cover it).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/http/pprof_backend.h"
#include "base/log.h"

namespace pprofd::http::testing {

class FakeBackend : public PprofBackend {
 public:
  ~FakeBackend() override { JoinAll(); }

  void CpuProfile(const CpuProfileRequest& request, ProfileCallback done) override {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    Spawn([this, request, done = std::move(done)] {
      const int now = in_flight_.fetch_add(1) + 1;
      int seen = max_in_flight_.load();
      while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(profile_delay);
      in_flight_.fetch_sub(1);
      if (profile_error) {
        done(Status::Error(*profile_error), profile_error_kind);
      } else {
        done(StrCat("profile seconds=", request.seconds, " hz=", request.hz));
      }
    });
  }

  void HeapProfile(const HeapProfileRequest& request, ProfileCallback done) override {
    {
      std::lock_guard lock(mutex_);
      heap_requests_.push_back(request);
    }
    Spawn([this, request, done = std::move(done)] {
      if (profile_error) {
        done(Status::Error(*profile_error), profile_error_kind);
      } else {
        done(StrCat(request.kind == HeapProfileKind::kAllocs ? "allocs" : "heap",
                    " seconds=", request.seconds, " debug=", request.debug));
      }
    });
  }

  void ThreadProfile(const ThreadProfileRequest& request, ProfileCallback done) override {
    {
      std::lock_guard lock(mutex_);
      thread_requests_.push_back(request);
    }
    Spawn([this, request, done = std::move(done)] {
      if (profile_error) {
        done(Status::Error(*profile_error), profile_error_kind);
      } else {
        done(StrCat("threads debug=", request.debug));
      }
    });
  }

  void OffCpuProfile(const OffCpuProfileRequest& request, ProfileCallback done) override {
    {
      std::lock_guard lock(mutex_);
      offcpu_requests_.push_back(request);
    }
    Spawn([this, request, done = std::move(done)] {
      if (profile_error) {
        done(Status::Error(*profile_error), profile_error_kind);
      } else {
        done(StrCat(request.kind == OffCpuProfileKind::kMutex ? "mutex" : "block",
                    " seconds=", request.seconds, " debug=", request.debug));
      }
    });
  }

  void LookupSymbols(const std::vector<uint64_t>& addresses, SymbolCallback done) override {
    Spawn([this, addresses, done = std::move(done)] {
      std::vector<std::string> names;
      for (uint64_t address : addresses) {
        auto it = symbols.find(address);
        names.push_back(it == symbols.end() ? "" : it->second);
      }
      if (drop_last_symbol && !names.empty()) names.pop_back();
      done(std::move(names));
    });
  }

  StatusOr<std::string> Cmdline() override {
    if (cmdline_error) return Status::Error(*cmdline_error);
    return std::string("/usr/bin/target\0--flag\0value", 27);
  }
  int default_hz() const override { return 99; }
  int max_hz() const override { return 1000; }
  int max_seconds() const override { return 300; }

  std::vector<CpuProfileRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<HeapProfileRequest> heap_requests() {
    std::lock_guard lock(mutex_);
    return heap_requests_;
  }
  std::vector<ThreadProfileRequest> thread_requests() {
    std::lock_guard lock(mutex_);
    return thread_requests_;
  }
  std::vector<OffCpuProfileRequest> offcpu_requests() {
    std::lock_guard lock(mutex_);
    return offcpu_requests_;
  }
  int max_in_flight() const { return max_in_flight_.load(); }

  void JoinAll() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }

  // Configuration; set before requests are made.
  std::chrono::milliseconds profile_delay{0};
  std::optional<std::string> profile_error;
  BackendErrorKind profile_error_kind = BackendErrorKind::kInternal;
  std::optional<std::string> cmdline_error;
  std::map<uint64_t, std::string> symbols;
  bool drop_last_symbol = false;

 private:
  template <typename F>
  void Spawn(F work) {
    std::lock_guard lock(mutex_);
    threads_.emplace_back(std::move(work));
  }

  std::mutex mutex_;
  std::vector<CpuProfileRequest> requests_;
  std::vector<HeapProfileRequest> heap_requests_;
  std::vector<ThreadProfileRequest> thread_requests_;
  std::vector<OffCpuProfileRequest> offcpu_requests_;
  std::vector<std::thread> threads_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

}  // namespace pprofd::http::testing
