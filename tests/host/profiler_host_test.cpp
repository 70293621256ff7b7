// The host with fake kinds on a real (sleeping) target process and no BPF: dispatch by request
// type, a kind's unavailability, the drain tick while a kind is attached, profiles in flight
// finished early when the target exits or pprofd shuts down, and refusals afterwards.
#include "agent/host/profiler_host.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "agent/host/target_context.h"
#include "agent/host/window_set.h"
#include "base/log.h"
#include "tests/support/sleeping_child.h"

namespace pprofd::host {
namespace {

using namespace std::chrono_literals;

// Serves block and mutex as windows through a WindowSet; "attached" while a window is open.
class FakeWindowKind : public ProfileKind {
 public:
  explicit FakeWindowKind(TargetContext* context)
      : context_(context),
        windows_(context->io(),
                 {[](WindowSet<int>::Window& window, const WindowEnd& end) {
                    std::string body = StrCat("window of ", window.request.seconds, " s");
                    if (auto note = end.CoverageComment(window.request.seconds); !note.empty()) {
                      body += "; " + note;
                    }
                    return StatusOr<std::string>(body);
                  },
                  nullptr}) {}

  std::vector<std::string> types() const override { return {"block", "mutex"}; }
  Status Available() const override { return Status::Ok(); }
  void Profile(const http::ProfileRequest& request, http::ProfileCallback done) override {
    windows_.Open(request, std::move(done));
    context_->RequestDrain();
  }
  bool Attached() const override { return !windows_.empty(); }
  void Drain() override { ++drains; }
  void FinishAll(const std::string& reason) override { windows_.FinishAll(reason); }
  void ReportMetrics(metrics::Registry&, bool final) override {
    if (final) ++final_reports;
  }

  std::atomic<int> drains{0};
  std::atomic<int> final_reports{0};

 private:
  TargetContext* context_;
  WindowSet<int> windows_;
};

// A kind this kernel cannot serve.
class UnavailableKind : public ProfileKind {
 public:
  std::vector<std::string> types() const override { return {"heap"}; }
  Status Available() const override {
    return Status::Error("heap profiles are unavailable: no allocator found in PID 1");
  }
  void Profile(const http::ProfileRequest&, http::ProfileCallback) override {
    FAIL("Profile() called on an unavailable kind");
  }
  bool Attached() const override { return false; }
  void Drain() override {}
  void FinishAll(const std::string&) override {}
};

struct Answer {
  StatusOr<std::string> profile = Status::Error("not answered");
  http::BackendErrorKind kind = http::BackendErrorKind::kInternal;
};

struct HostFixture {
  testing::SleepingChild child;
  metrics::Registry registry;
  FakeWindowKind* fake = nullptr;
  std::unique_ptr<ProfilerHost> host;
  std::promise<void> exited;

  HostFixture() {
    auto target = target::TargetProcess::Open(child.pid());
    REQUIRE(target.ok());
    auto context = std::make_unique<TargetContext>(std::move(*target), &registry);
    std::vector<std::unique_ptr<ProfileKind>> kinds;
    auto window_kind = std::make_unique<FakeWindowKind>(context.get());
    fake = window_kind.get();
    kinds.push_back(std::move(window_kind));
    kinds.push_back(std::make_unique<UnavailableKind>());
    HostOptions options;
    options.exit_note = " (a note from the options)";
    host = std::make_unique<ProfilerHost>(options, std::move(context), std::move(kinds));
    host->Start([this] { exited.set_value(); });
  }

  std::future<Answer> Ask(const std::string& type, int seconds) {
    auto promise = std::make_shared<std::promise<Answer>>();
    http::ProfileRequest request;
    request.type = type;
    request.seconds = seconds;
    host->Profile(request, [promise](StatusOr<std::string> profile, http::BackendErrorKind kind) {
      promise->set_value(Answer{std::move(profile), kind});
    });
    return promise->get_future();
  }
};

TEST_CASE_METHOD(HostFixture, "Requests go to the kind serving their type", "[host]") {
  Answer block = Ask("block", 1).get();
  REQUIRE(block.profile.ok());
  CHECK(*block.profile == "window of 1 s");

  Answer heap = Ask("heap", 0).get();
  REQUIRE_FALSE(heap.profile.ok());
  CHECK(heap.kind == http::BackendErrorKind::kNotImplemented);
  CHECK(heap.profile.status().message() ==
        "heap profiles are unavailable: no allocator found in PID 1");

  Answer cpu = Ask("profile", 1).get();
  REQUIRE_FALSE(cpu.profile.ok());
  CHECK(cpu.kind == http::BackendErrorKind::kNotImplemented);
  CHECK(cpu.profile.status().message() ==
        "/debug/pprof/profile is not built into this pprofd: no profile kind serves it");
}

TEST_CASE_METHOD(HostFixture, "The host drains while a kind is attached, then reports once more",
                 "[host]") {
  Answer block = Ask("block", 1).get();
  REQUIRE(block.profile.ok());
  // 20 ms ticks over a 1 s window.
  CHECK(fake->drains.load() >= 20);
  std::this_thread::sleep_for(200ms);
  const int after = fake->drains.load();
  CHECK(fake->final_reports.load() == 1);
  std::this_thread::sleep_for(200ms);
  CHECK(fake->drains.load() == after);
}

TEST_CASE_METHOD(HostFixture, "The target's exit finishes profiles in flight early", "[host]") {
  std::future<Answer> mutex = Ask("mutex", 30);
  std::this_thread::sleep_for(300ms);
  const pid_t pid = child.pid();
  child.Kill();
  REQUIRE(mutex.wait_for(5s) == std::future_status::ready);
  Answer answer = mutex.get();
  REQUIRE(answer.profile.ok());
  CHECK_THAT(*answer.profile,
             Catch::Matches(StrCat("window of 30 s; the target process ", pid,
                                   " exited during the profile \\(a note from the options\\): "
                                   "this profile covers [0-9]+ ms of the 30 s asked for")));
  REQUIRE(exited.get_future().wait_for(5s) == std::future_status::ready);

  Answer after = Ask("block", 1).get();
  REQUIRE_FALSE(after.profile.ok());
  CHECK(after.kind == http::BackendErrorKind::kUnavailable);
  CHECK(after.profile.status().message() ==
        StrCat("target process ", pid, " has exited: restart pprofd with the new PID"));
}

TEST_CASE_METHOD(HostFixture, "Shutdown answers profiles in flight, then refuses", "[host]") {
  std::future<Answer> block = Ask("block", 30);
  std::this_thread::sleep_for(100ms);
  std::thread stopper([this] { host->Shutdown("pprofd is shutting down"); });
  REQUIRE(block.wait_for(5s) == std::future_status::ready);
  Answer answer = block.get();
  REQUIRE(answer.profile.ok());
  CHECK_THAT(*answer.profile, Catch::StartsWith("window of 30 s; pprofd is shutting down: this "
                                                "profile covers "));
  stopper.join();
  // A second Shutdown does nothing; the thread is gone, so nothing answers later requests.
  host->Shutdown("again");
}

}  // namespace
}  // namespace pprofd::host
