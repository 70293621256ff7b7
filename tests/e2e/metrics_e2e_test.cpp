// End to end: pprofd's /metrics, as Prometheus would scrape it after a real CPU profile taken by
// the real `go tool pprof`, checked by the real promtool; and /healthz, also while a followed
// target is gone.
//
// promtool's lint warnings fail the test: promtool 2.42 (Debian 12) exits 3 on any lint problem
// (a family without HELP, a counter without _total...), and a scrape that lints cleanly is what
// pprofd promises; the test also requires its output to be empty.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

// "name{labels}" -> value, for every sample line of a text-format scrape.
std::map<std::string, double> ParseSamples(const std::string& text) {
  std::map<std::string, double> samples;
  for (const std::string& line : Lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// Written aside and renamed, so the agent never reads half a file.
void WritePidfile(const std::string& path, pid_t pid) {
  std::ofstream(path + ".tmp") << pid << "\n";
  REQUIRE(std::rename((path + ".tmp").c_str(), path.c_str()) == 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Scrapes /metrics with curl, piped into `promtool check metrics`, as the brief of issue 5 asks;
// `tee` keeps the body for the checks. Fails the test unless both succeed without a word.
std::map<std::string, double> ScrapeAndLint(const Agent& agent, std::string* body) {
  const std::string file = TempDir() + "/metrics.txt";
  CommandResult result =
      RunCommand({"bash", "-c",
                  "set -o pipefail; curl -sS -f --max-time 30 '" + agent.Url("/metrics") +
                      "' | tee '" + file + "' | promtool check metrics"});
  *body = ReadFile(file);
  INFO("scrape:\n" << *body);
  INFO("promtool stdout: " << result.out << "\npromtool stderr: " << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err.empty());
  return ParseSamples(*body);
}

double Value(const std::map<std::string, double>& samples, const std::string& series) {
  auto it = samples.find(series);
  return it == samples.end() ? -1 : it->second;
}

}  // namespace

TEST_CASE("/metrics after a CPU profile passes promtool and counts what happened") {
  Subprocess workload({FixturePath("workloads/cpu_split_g")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  CommandResult health = Curl({agent.Url("/healthz")});
  CHECK(StatusCode(health.out) == 200);
  CHECK(BodyOf(health.out) == "ok\n");

  RawProfile profile;
  std::string error;
  const bool fetched =
      FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=3"), &profile, &error);
  INFO(error);
  REQUIRE(fetched);
  REQUIRE(profile.TotalCount() > 0);

  std::string body;
  const auto samples = ScrapeAndLint(agent, &body);
  INFO(body);
  // Every sample in the profile was received. The sampler runs on while the profile is built
  // and sent (it stops after), so more arrive then: allow a second's worth at 99 Hz per CPU (the
  // build takes well under that). Seen: 194 received for 183 in the profile, on 2 CPUs.
  const double received = Value(samples, "pprofd_cpu_samples_received_total");
  const double one_second = 99.0 * std::thread::hardware_concurrency();
  CHECK(received >= static_cast<double>(profile.TotalCount()));
  CHECK(received <= static_cast<double>(profile.TotalCount()) + one_second);
  CHECK(Value(samples, "pprofd_cpu_samples_lost_total") >= 0);  // present; 0 unless overloaded
  CHECK(Value(samples, "pprofd_http_requests_total{endpoint=\"profile\",code=\"200\"}") == 1);
  CHECK(Value(samples, "pprofd_http_requests_total{endpoint=\"healthz\",code=\"200\"}") == 1);
  CHECK(Value(samples, "process_resident_memory_bytes") > 0);
  CHECK(Value(samples, "process_cpu_seconds_total") > 0);
  CHECK(Value(samples, "process_open_fds") > 0);
  CHECK(Value(samples, "pprofd_target_pid") == workload.pid());
  CHECK(Value(samples, "pprofd_target_restarts_total") == 0);

  // Unwinding: each reason is a series from the start; the failures are at most the samples
  // (this workload unwinds completely, but the count must not depend on that).
  double failures = 0;
  for (const char* reason :
       {"truncated", "no_cfi", "unknown_mapping", "bad_frame", "max_depth", "no_user_stack"}) {
    const double count =
        Value(samples, std::string("pprofd_unwind_failures_total{reason=\"") + reason + "\"}");
    CHECK(count >= 0);
    failures += count;
  }
  CHECK(failures <= received);

  // Symbolization: the profile's frames were looked up once each, then cached.
  const double entries = Value(samples, "pprofd_symbolization_cache_entries");
  CHECK(entries > 0);
  CHECK(Value(samples, "pprofd_symbolization_cache_misses_total") == entries);
  CHECK(Value(samples, "pprofd_symbolization_cache_hits_total") >= 0);

  bool build_info = false;
  for (const auto& [series, value] : samples) {
    if (series.rfind("pprofd_build_info{version=\"", 0) == 0) build_info = value == 1;
  }
  CHECK(build_info);

  // A second profile of the same code hits the cache; the scrape before counts as a request.
  REQUIRE(FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=1"), &profile, &error));
  const auto again = ScrapeAndLint(agent, &body);
  CHECK(Value(again, "pprofd_symbolization_cache_hits_total") > 0);
  CHECK(Value(again, "pprofd_cpu_samples_received_total") > received);
  CHECK(Value(again, "pprofd_http_requests_total{endpoint=\"profile\",code=\"200\"}") == 2);
  CHECK(Value(again, "pprofd_http_requests_total{endpoint=\"metrics\",code=\"200\"}") == 1);

  // The content type Prometheus expects of the text format.
  CommandResult headers = Curl({agent.Url("/metrics")});
  CHECK(StatusCode(headers.out) == 200);
  CHECK(headers.out.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
        std::string::npos);
}

TEST_CASE("/healthz answers 200 while a followed target is gone, and restarts are counted") {
  const std::string pidfile = TempDir() + "/target.pid";
  auto workload =
      std::make_unique<Subprocess>(std::vector<std::string>{FixturePath("workloads/cpu_split_g")});
  REQUIRE(WaitForReady(*workload));
  WritePidfile(pidfile, workload->pid());
  Agent agent = Agent::WithArgs({"--pidfile", pidfile});
  REQUIRE(agent.listening());
  CHECK(StatusCode(Curl({agent.Url("/healthz")}).out) == 200);

  // The target goes away: the agent is still alive, and says so.
  workload.reset();  // SIGKILL and reap
  for (int i = 0; i < 5; ++i) {
    CommandResult health = Curl({agent.Url("/healthz")});
    CHECK(StatusCode(health.out) == 200);
    CHECK(BodyOf(health.out) == "ok\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(agent.process().Running());

  // A new process of the target: followed, and counted.
  Subprocess next({FixturePath("workloads/cpu_split_g")});
  REQUIRE(WaitForReady(next));
  WritePidfile(pidfile, next.pid());
  std::map<std::string, double> samples;
  std::string body;
  for (int i = 0; i < 100; ++i) {
    samples = ScrapeAndLint(agent, &body);
    if (Value(samples, "pprofd_target_pid") == next.pid()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(body);
  CHECK(Value(samples, "pprofd_target_pid") == next.pid());
  CHECK(Value(samples, "pprofd_target_restarts_total") == 1);
  CHECK(Value(samples, "pprofd_http_requests_total{endpoint=\"healthz\",code=\"200\"}") == 6);
  CHECK(StatusCode(Curl({agent.Url("/healthz")}).out) == 200);
}

}  // namespace pprofd::e2e
