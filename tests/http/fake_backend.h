// A PprofBackend that answers from its own threads after a delay, as the real one answers from
// its worker: the one place a fake is right (the real backend needs BPF; e2e tests cover it).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <initializer_list>
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

  // Answers "<type> <parameters>"; CPU profiles after profile_delay (the other types at once),
  // holding a place in max_in_flight() meanwhile.
  void Profile(const ProfileRequest& request, ProfileCallback done) override {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    Spawn([this, request, done = std::move(done)] {
      if (request.type == "profile") {
        const int now = in_flight_.fetch_add(1) + 1;
        int seen = max_in_flight_.load();
        while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(profile_delay);
        in_flight_.fetch_sub(1);
      }
      if (profile_error) return done(Status::Error(*profile_error), profile_error_kind);
      done(Describe(request));
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
  int history_seconds() const override { return history; }

  // The requests of each kind, in arrival order.
  std::vector<ProfileRequest> requests() { return Requests({"profile"}); }
  std::vector<ProfileRequest> heap_requests() { return Requests({"heap", "allocs"}); }
  std::vector<ProfileRequest> thread_requests() { return Requests({"threads", "goroutine"}); }
  std::vector<ProfileRequest> offcpu_requests() { return Requests({"block", "mutex"}); }
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
  int history = 0;  // --history with --continuous; 0 without
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

  static std::string Describe(const ProfileRequest& request) {
    if (request.type == "profile" && request.past_seconds > 0) {
      return StrCat("profile past=", request.past_seconds);
    }
    if (request.type == "profile") {
      return StrCat("profile seconds=", request.seconds, " hz=", request.hz);
    }
    if (request.type == "threads" || request.type == "goroutine") {
      return StrCat("threads debug=", request.debug);
    }
    return StrCat(request.type, " seconds=", request.seconds, " debug=", request.debug);
  }

  std::vector<ProfileRequest> Requests(std::initializer_list<std::string_view> types) {
    std::lock_guard lock(mutex_);
    std::vector<ProfileRequest> out;
    for (const ProfileRequest& request : requests_) {
      if (std::find(types.begin(), types.end(), request.type) != types.end()) {
        out.push_back(request);
      }
    }
    return out;
  }

  std::mutex mutex_;
  std::vector<ProfileRequest> requests_;
  std::vector<std::thread> threads_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

}  // namespace pprofd::http::testing
