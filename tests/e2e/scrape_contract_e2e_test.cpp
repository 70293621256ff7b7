// End to end: the fleet's scrapers replayed against pprofd and, side by side in the same test,
// against a Go program serving Go's own net/http/pprof, so that pprofd answers where Go answers
// and as Go answers.
//
// What the scrapers send, read at their sources (late 2026):
// - Grafana Alloy pyroscope.scrape, github.com/grafana/alloy at 66ebea85,
//   internal/component/pyroscope/scrape/:
//   * scrape.go DefaultProfilingConfig: /debug/pprof/allocs, /block, /goroutine, /mutex without
//     parameters; /debug/pprof/profile with Delta: true, i.e. `seconds` = scrape_interval - 1
//     (scrape.go: `seconds := (cfg.ScrapeInterval)/time.Second - 1`); delta_heap, delta_block,
//     delta_mutex (godeltaprof) are off by default. Defaults: scrape_interval 15 s,
//     scrape_timeout 10 s.
//   * scrape_loop.go newScrapeLoop: a target with `seconds` gets timeout += interval - 1 s; a
//     plain GET with a User-Agent header; a non-2xx status, an empty body or a body failing
//     validateProfileData is a scrape error.
//   * validate.go: Content-Type must start with application/octet-stream; bodies that look like
//     HTML or JSON are refused; the body must be gzip or a protobuf.
//   * delta_profiles.go: allocs (alloc_objects, alloc_space), block and mutex (contentions,
//     delay) go through a delta computer (fastdelta) unless the target is godeltaprof; "The first
//     sample should be skipped because we don't have a previous sample to compute delta with".
// - Parca, github.com/parca-dev/parca at 3b5647cd:
//   * pkg/config/config.go DefaultScrapeConfig: scrape_interval 10 s; /debug/pprof/allocs,
//     /block, /goroutine, /mutex; /debug/pprof/profile with Delta: true; scrape_timeout 0 becomes
//     interval + 3 s.
//   * pkg/scrape/target.go: `seconds` = scrape_interval for delta targets.
//   * pkg/profilestore/profilecolumnstore.go: "Add delta suffix if duration is not 0": a profile
//     with duration_nanos != 0 is stored as a delta, so a cumulative one must say 0.
//   * Mapping, function and location ids 1..n (DESIGN.md section 4b): checked on every profile.
// Intervals are shortened to 5 s; timeouts keep their rules (Alloy: 10 s, a CPU window 10 + 5 - 1
// s; Parca: interval + 3 s). Go refuses a second CPU profile while one runs (500), so the two
// scrapers run one after the other, each against both targets at once.
//
// The targets behave in known ways and print their own counters every 10 ms
// (tests/fixtures/scrape_workload/): a thread that sleeps (a goroutine that waits on a channel),
// measuring its blocked time; an allocator counting its bytes; two contenders on one mutex. A
// scraper-side delta of /block over an interval must match the blocked time the workload
// measured within 15%, and one of /allocs alloc_space the bytes it allocated within 15%. The
// workload's counters are read just before each request and just after its answer; the profile
// was taken in between, so its difference must lie within that bracket widened by 15% (quiet:
// the bracket is tens of ms wide, ratios 0.97-1.10 here; at a load average of 20 it widens).
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proto/profile.pb.h"
#include "proto/profile_builder.h"
#include "tests/e2e/harness/agent_harness.h"
#include "tests/support/go_tool.h"

namespace pprofd::e2e {
namespace {

using perftools::profiles::Profile;
using Clock = std::chrono::steady_clock;

constexpr int kIntervalSeconds = 5;
constexpr double kTolerance = 0.15;
constexpr int64_t kHeapRate = 64 * 1024;  // pprofd --heap-rate; the Go target's MemProfileRate

// One scrape as the scraper saw it.
struct Scrape {
  std::string path;  // with its query
  int timeout_s = 0;
  int code = 0;
  std::string content_type;
  double seconds = 0;  // from the request to the last byte
  std::string body;
  // The target's own counters just before the request and right after the answer: the profile
  // was taken somewhere in between (under load, spawning curl alone can take a while).
  struct Counters {
    int64_t blocked_ns = 0;
    int64_t alloc_bytes = 0;
  };
  Counters before;
  Counters after;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The last complete counter line a workload printed.
void ReadCounters(Subprocess& workload, int64_t* blocked_ns, int64_t* alloc_bytes) {
  const std::string out = workload.Stdout();
  const size_t end = out.rfind('\n');
  if (end == std::string::npos) return;
  const size_t begin = out.rfind("t_ns=", end);
  if (begin == std::string::npos) return;
  long long t = 0, blocked = 0, bytes = 0;
  if (std::sscanf(out.c_str() + begin, "t_ns=%lld blocked_ns=%lld alloc_bytes=%lld", &t, &blocked,
                  &bytes) == 3) {
    *blocked_ns = blocked;
    *alloc_bytes = bytes;
  }
}

// A GET as the scrapers send it: a User-Agent, no Accept-Encoding (Go's client adds gzip and
// decodes it itself; pprof bodies are gzip already), `timeout_s` for the whole exchange.
Scrape Fetch(const std::string& base_url, const std::string& path, int timeout_s,
             Subprocess& workload) {
  Scrape scrape;
  scrape.path = path;
  scrape.timeout_s = timeout_s;
  const std::string file = TempDir() + "/body";
  ReadCounters(workload, &scrape.before.blocked_ns, &scrape.before.alloc_bytes);
  CommandResult result = RunCommand({"curl", "-s", "-o", file, "-A", "pprofd-scrape-contract-test",
                                     "--max-time", std::to_string(timeout_s), "-w",
                                     "%{http_code} %{time_total} %{content_type}", base_url + path},
                                    std::chrono::seconds(timeout_s + 5));
  ReadCounters(workload, &scrape.after.blocked_ns, &scrape.after.alloc_bytes);
  std::istringstream written(result.out);
  written >> scrape.code >> scrape.seconds;
  std::getline(written >> std::ws, scrape.content_type);
  scrape.body = ReadFile(file);
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
  return scrape;
}

bool Decode(const Scrape& scrape, Profile* profile) {
  std::string bytes;
  const bool gzipped = scrape.body.size() > 2 && static_cast<uint8_t>(scrape.body[0]) == 0x1f &&
                       static_cast<uint8_t>(scrape.body[1]) == 0x8b;
  if (gzipped && !proto::Gunzip(scrape.body, &bytes)) return false;
  return profile->ParseFromString(gzipped ? bytes : scrape.body);
}

const std::string& Str(const Profile& profile, int64_t index) {
  return profile.string_table(static_cast<int>(index));
}

std::vector<std::string> SampleTypes(const Profile& profile) {
  std::vector<std::string> types;
  for (const auto& type : profile.sample_type()) {
    types.push_back(Str(profile, type.type()) + "/" + Str(profile, type.unit()));
  }
  return types;
}

std::string PeriodType(const Profile& profile) {
  return Str(profile, profile.period_type().type()) + "/" +
         Str(profile, profile.period_type().unit());
}

// Parca's rule: every id of mappings, functions and locations is its position, 1..n.
std::string IdsNotOneToN(const Profile& profile) {
  for (int i = 0; i < profile.mapping_size(); ++i) {
    if (profile.mapping(i).id() != static_cast<uint64_t>(i + 1))
      return "mapping " + std::to_string(i);
  }
  for (int i = 0; i < profile.function_size(); ++i) {
    if (profile.function(i).id() != static_cast<uint64_t>(i + 1))
      return "function " + std::to_string(i);
  }
  for (int i = 0; i < profile.location_size(); ++i) {
    if (profile.location(i).id() != static_cast<uint64_t>(i + 1))
      return "location " + std::to_string(i);
  }
  return "";
}

// Per stack (its function names, leaf first; several stacks may share a key), the value of
// sample type `type`.
std::map<std::string, int64_t> ValuesByStack(const Profile& profile, const std::string& type) {
  int index = -1;
  for (int i = 0; i < profile.sample_type_size(); ++i) {
    if (Str(profile, profile.sample_type(i).type()) == type) index = i;
  }
  std::map<std::string, int64_t> values;
  if (index < 0) return values;
  std::map<uint64_t, std::string> function_names;
  for (const auto& function : profile.function()) {
    function_names[function.id()] = Str(profile, function.name());
  }
  std::map<uint64_t, std::string> location_names;
  for (const auto& location : profile.location()) {
    std::string names;
    for (const auto& line : location.line()) names += function_names[line.function_id()] + ";";
    if (location.line_size() == 0) names = "0x" + std::to_string(location.address()) + ";";
    location_names[location.id()] = names;
  }
  for (const auto& sample : profile.sample()) {
    std::string key;
    for (uint64_t id : sample.location_id()) key += location_names[id];
    for (const auto& label : sample.label()) {
      // Go's heap samples differ by object size only in their "bytes" label.
      key += "{" + Str(profile, label.key()) + "=" + std::to_string(label.num()) + "}";
    }
    values[key] += sample.value(index);
  }
  return values;
}

// Sum of `type` over the stacks holding a function whose name contains `function`.
int64_t SumWhere(const Profile& profile, const std::string& type, const std::string& function) {
  int64_t sum = 0;
  for (const auto& [stack, value] : ValuesByStack(profile, type)) {
    if (stack.find(function) != std::string::npos) sum += value;
  }
  return sum;
}

struct Target {
  std::string name;
  std::string base_url;
  Subprocess* workload;
  bool is_pprofd;
  std::string blocked_function;  // the stack of the measured waits
  std::string alloc_function;    // the stack of the counted allocations
};

struct Path {
  std::string path;
  int timeout_s;
};

// One scraper's default sequence against every target: every round, all its paths at once (a
// scraper runs one loop per profile type), the next round one interval after the last began.
std::map<std::string, std::vector<Scrape>> RunScraper(const std::vector<Target>& targets,
                                                      const std::vector<Path>& paths,
                                                      const std::vector<Path>& pprofd_only,
                                                      int rounds) {
  std::map<std::string, std::vector<Scrape>> scrapes;  // target/path -> in order
  std::mutex lock;
  for (int round = 0; round < rounds; ++round) {
    const auto round_start = Clock::now();
    std::vector<std::thread> threads;
    for (const Target& target : targets) {
      std::vector<Path> all = paths;
      if (target.is_pprofd) all.insert(all.end(), pprofd_only.begin(), pprofd_only.end());
      for (const Path& path : all) {
        threads.emplace_back([&, target, path] {
          Scrape scrape = Fetch(target.base_url, path.path, path.timeout_s, *target.workload);
          std::lock_guard<std::mutex> hold(lock);
          scrapes[target.name + " " + path.path].push_back(std::move(scrape));
        });
      }
    }
    for (std::thread& thread : threads) thread.join();
    std::this_thread::sleep_until(round_start + std::chrono::seconds(kIntervalSeconds));
  }
  return scrapes;
}

// What every scrape must be, whatever the target: 200 within the timeout, an octet-stream body
// that Alloy's validation accepts and that decodes, with ids 1..n.
void CheckScrape(const std::string& what, const Scrape& scrape, Profile* profile) {
  INFO(what << ": HTTP " << scrape.code << ", " << scrape.seconds << " s, Content-Type '"
            << scrape.content_type << "', " << scrape.body.size() << " bytes");
  CHECK(scrape.code == 200);
  CHECK(scrape.seconds < scrape.timeout_s);
  CHECK(scrape.content_type.rfind("application/octet-stream", 0) == 0);
  REQUIRE(scrape.body.size() > 2);
  CHECK(scrape.body[0] != '<');  // Alloy refuses HTML
  CHECK(scrape.body[0] != '{');  // and JSON
  REQUIRE(Decode(scrape, profile));
  CHECK(IdsNotOneToN(*profile).empty());
}

// The expected sample types and period type of each path (Go's).
void CheckTypes(const std::string& what, const std::string& path, const Profile& profile) {
  INFO(what);
  const std::vector<std::string> types = SampleTypes(profile);
  if (path.starts_with("/debug/pprof/allocs") || path.starts_with("/debug/pprof/delta_heap")) {
    CHECK(types == std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes",
                                            "inuse_objects/count", "inuse_space/bytes"});
    CHECK(PeriodType(profile) == "space/bytes");
  } else if (path.find("block") != std::string::npos || path.find("mutex") != std::string::npos) {
    CHECK(types == std::vector<std::string>{"contentions/count", "delay/nanoseconds"});
    CHECK(PeriodType(profile) == "contentions/count");
  } else if (path.starts_with("/debug/pprof/goroutine")) {
    CHECK(types == std::vector<std::string>{"goroutine/count"});
    CHECK(PeriodType(profile) == "goroutine/count");
    CHECK(profile.sample_size() > 0);
  } else if (path.starts_with("/debug/pprof/profile")) {
    CHECK(types == std::vector<std::string>{"samples/count", "cpu/nanoseconds"});
    CHECK(PeriodType(profile) == "cpu/nanoseconds");
  }
}

// Counts never decrease: each stack's value in a cumulative profile is at least its previous one.
void CheckNeverDecreases(const std::string& what, const std::vector<Profile>& profiles,
                         const std::string& type) {
  for (size_t i = 1; i < profiles.size(); ++i) {
    const auto before = ValuesByStack(profiles[i - 1], type);
    const auto after = ValuesByStack(profiles[i], type);
    for (const auto& [stack, value] : before) {
      auto it = after.find(stack);
      const int64_t now = it == after.end() ? 0 : it->second;
      INFO(what << " " << type << ", scrape " << i << ", stack " << stack);
      CHECK(now >= value);
    }
  }
}

// `measured`, a profile's difference between the scrapes `earlier` and `later`, against what the
// workload counted between them (`counter`): at least what it counted from just after the
// earlier answer to just before the later request, at most from just before the earlier request
// to just after the later answer; 15% either way.
void CheckWithin(const std::string& what, double measured, const Scrape& earlier,
                 const Scrape& later, int64_t Scrape::Counters::*counter) {
  const double low = static_cast<double>(later.before.*counter - earlier.after.*counter);
  const double high = static_cast<double>(later.after.*counter - earlier.before.*counter);
  INFO(what << ": profile " << measured << ", workload " << low << " to " << high << " (ratio "
            << (low > 0 ? measured / low : 0) << " to " << (high > 0 ? measured / high : 0) << ")");
  CHECK(low > 0);
  CHECK(measured >= low * (1 - kTolerance));
  CHECK(measured <= high * (1 + kTolerance));
}

TEST_CASE(
    "Alloy's and Parca's default scrape sequences: pprofd answers as Go's net/http/pprof does, "
    "side by side",
    "[scrape]") {
  // The Go side: Debian's Go builds the program, Go's runtime serves its profiles.
  testing::GoTool go;
  REQUIRE(go.ok());
  const std::filesystem::path go_binary = TempDir() + "/scrape_target";
  const testing::CommandResult built =
      go.Build(std::string(PPROFD_SOURCE_DIR) + "/tests/fixtures/scrape_workload/scrape_target.go",
               go_binary);
  INFO("go build: " << built.output);
  REQUIRE(built.exit_code == 0);
  const int go_port = FreePort();
  Subprocess go_target({go_binary.string(), "127.0.0.1:" + std::to_string(go_port)});
  REQUIRE(WaitForReady(go_target));
  REQUIRE(WaitForPort(go_port, std::chrono::seconds(5)));

  // The native side: pprofd tracks everything from start-up.
  Subprocess workload({FixturePath("scrape_workload/scrape_workload")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid(),
              {"--block", "--mutex", "--heap", "--heap-rate", std::to_string(kHeapRate)});
  REQUIRE(agent.listening());

  const std::vector<Target> targets = {
      {"pprofd", agent.Url(""), &workload, true, "SleeperLoop", "AllocateBlock"},
      {"go", "http://127.0.0.1:" + std::to_string(go_port), &go_target, false, "main.blocker",
       "main.allocateBlock"},
  };

  // Alloy: scrape_timeout 10 s; the CPU window is interval - 1 s and its timeout 10 + 5 - 1 s.
  constexpr int kAlloyTimeout = 10;
  const std::vector<Path> alloy_paths = {
      {"/debug/pprof/profile?seconds=" + std::to_string(kIntervalSeconds - 1),
       kAlloyTimeout + kIntervalSeconds - 1},
      {"/debug/pprof/allocs", kAlloyTimeout},
      {"/debug/pprof/block", kAlloyTimeout},
      {"/debug/pprof/mutex", kAlloyTimeout},
      {"/debug/pprof/goroutine", kAlloyTimeout},
  };
  // godeltaprof's paths, which Go's net/http/pprof does not serve (404 there).
  const std::vector<Path> alloy_godeltaprof = {
      {"/debug/pprof/delta_heap", kAlloyTimeout},
      {"/debug/pprof/delta_block", kAlloyTimeout},
      {"/debug/pprof/delta_mutex", kAlloyTimeout},
  };
  constexpr int kAlloyRounds = 4;  // the first is dropped by Alloy's delta: three deltas
  auto alloy = RunScraper(targets, alloy_paths, alloy_godeltaprof, kAlloyRounds);

  // Parca: timeout interval + 3 s; the CPU window is the interval.
  constexpr int kParcaTimeout = kIntervalSeconds + 3;
  const std::vector<Path> parca_paths = {
      {"/debug/pprof/profile?seconds=" + std::to_string(kIntervalSeconds), kParcaTimeout},
      {"/debug/pprof/allocs", kParcaTimeout},
      {"/debug/pprof/block", kParcaTimeout},
      {"/debug/pprof/mutex", kParcaTimeout},
      {"/debug/pprof/goroutine", kParcaTimeout},
  };
  constexpr int kParcaRounds = 3;
  auto parca = RunScraper(targets, parca_paths, {}, kParcaRounds);

  // The slowest answer per path, for the record (the checks below hold it to the timeout).
  for (const auto* scraper : {&alloy, &parca}) {
    for (const auto& [key, scrapes] : *scraper) {
      double slowest = 0;
      for (const Scrape& scrape : scrapes) slowest = std::max(slowest, scrape.seconds);
      std::printf("%s %-40s %zu scrapes, slowest %.3f s (timeout %d s)\n",
                  scraper == &alloy ? "Alloy" : "Parca", key.c_str(), scrapes.size(), slowest,
                  scrapes.empty() ? 0 : scrapes.front().timeout_s);
    }
  }

  for (const auto* scraper : {&alloy, &parca}) {
    const std::string scraper_name = scraper == &alloy ? "Alloy" : "Parca";
    for (const auto& [key, scrapes] : *scraper) {
      const bool on_pprofd = key.starts_with("pprofd ");
      const std::string path = key.substr(key.find(' ') + 1);
      std::vector<Profile> profiles(scrapes.size());
      for (size_t i = 0; i < scrapes.size(); ++i) {
        const std::string what = scraper_name + " " + key + " #" + std::to_string(i);
        CheckScrape(what, scrapes[i], &profiles[i]);
        CheckTypes(what, path, profiles[i]);
        const bool cumulative = path == "/debug/pprof/allocs" || path == "/debug/pprof/block" ||
                                path == "/debug/pprof/mutex";
        if (cumulative) {  // Go 1.19 leaves it unset (0) on these too
          INFO(what);
          CHECK(profiles[i].duration_nanos() == 0);  // Parca: not a delta
        }
        if (path.starts_with("/debug/pprof/profile")) {
          const int64_t seconds = std::stoi(path.substr(path.find('=') + 1));
          INFO(what << ": duration_nanos " << profiles[i].duration_nanos());
          CHECK(profiles[i].duration_nanos() >= seconds * 900'000'000);
        }
        if (on_pprofd && path.starts_with("/debug/pprof/delta_")) {
          INFO(what);
          CHECK(profiles[i].duration_nanos() > 0);
        }
      }
      if (path == "/debug/pprof/allocs") {
        CheckNeverDecreases(scraper_name + " " + key, profiles, "alloc_objects");
        CheckNeverDecreases(scraper_name + " " + key, profiles, "alloc_space");
      }
      if (path == "/debug/pprof/block" || path == "/debug/pprof/mutex") {
        CheckNeverDecreases(scraper_name + " " + key, profiles, "contentions");
        CheckNeverDecreases(scraper_name + " " + key, profiles, "delay");
      }
    }
  }

  // The scraper-side deltas (Alloy's: the first scrape dropped, then each against the previous)
  // against the workloads' own figures over the same interval.
  for (const Target& target : targets) {
    const auto& blocks = alloy[target.name + " /debug/pprof/block"];
    const auto& allocs = alloy[target.name + " /debug/pprof/allocs"];
    REQUIRE(blocks.size() == kAlloyRounds);
    REQUIRE(allocs.size() == kAlloyRounds);
    for (int i = 1; i < kAlloyRounds; ++i) {
      Profile before, after;
      REQUIRE(Decode(blocks[i - 1], &before));
      REQUIRE(Decode(blocks[i], &after));
      CheckWithin(target.name + " /block delay delta, interval " + std::to_string(i),
                  static_cast<double>(SumWhere(after, "delay", target.blocked_function) -
                                      SumWhere(before, "delay", target.blocked_function)),
                  blocks[i - 1], blocks[i], &Scrape::Counters::blocked_ns);
      REQUIRE(Decode(allocs[i - 1], &before));
      REQUIRE(Decode(allocs[i], &after));
      CheckWithin(target.name + " /allocs alloc_space delta, interval " + std::to_string(i),
                  static_cast<double>(SumWhere(after, "alloc_space", target.alloc_function) -
                                      SumWhere(before, "alloc_space", target.alloc_function)),
                  allocs[i - 1], allocs[i], &Scrape::Counters::alloc_bytes);
    }
    // The mutex profiles hold the contenders' waits.
    Profile mutex;
    REQUIRE(Decode(alloy[target.name + " /debug/pprof/mutex"].back(), &mutex));
    INFO(target.name << " /mutex");
    CHECK(SumWhere(mutex, "contentions", target.is_pprofd ? "ContenderLoop" : "main.contender") >
          0);
  }

  // godeltaprof's paths on pprofd: each call holds what changed since the previous call, so
  // over an interval delta_block matches the sleeper's measured blocked time as well.
  const auto& delta_blocks = alloy["pprofd /debug/pprof/delta_block"];
  const auto& delta_heaps = alloy["pprofd /debug/pprof/delta_heap"];
  REQUIRE(delta_blocks.size() == kAlloyRounds);
  for (int i = 1; i < kAlloyRounds; ++i) {
    Profile delta;
    REQUIRE(Decode(delta_blocks[i], &delta));
    CheckWithin("pprofd /delta_block, interval " + std::to_string(i),
                static_cast<double>(SumWhere(delta, "delay", "SleeperLoop")), delta_blocks[i - 1],
                delta_blocks[i], &Scrape::Counters::blocked_ns);
    REQUIRE(Decode(delta_heaps[i], &delta));
    CheckWithin("pprofd /delta_heap alloc_space, interval " + std::to_string(i),
                static_cast<double>(SumWhere(delta, "alloc_space", "AllocateBlock")),
                delta_heaps[i - 1], delta_heaps[i], &Scrape::Counters::alloc_bytes);
  }
}

// Without the tracking flags the cumulative paths answer at once (as Go's with no rate set) with
// an empty profile of the right types whose comment names the flag; windows work as before.
TEST_CASE(
    "Without --block, --mutex and --heap the cumulative paths are empty, at once, and say why",
    "[scrape]") {
  Subprocess workload({FixturePath("scrape_workload/scrape_workload")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  const std::map<std::string, std::string> flag_of = {
      {"/debug/pprof/allocs", "--heap"},       {"/debug/pprof/heap", "--heap"},
      {"/debug/pprof/delta_heap", "--heap"},   {"/debug/pprof/block", "--block"},
      {"/debug/pprof/delta_block", "--block"}, {"/debug/pprof/mutex", "--mutex"},
      {"/debug/pprof/delta_mutex", "--mutex"}};
  for (const auto& [path, flag] : flag_of) {
    Scrape scrape = Fetch(agent.Url(""), path, 10, workload);
    Profile profile;
    CheckScrape(path, scrape, &profile);
    CheckTypes(path, path == "/debug/pprof/heap" ? "/debug/pprof/allocs" : path, profile);
    INFO(path);
    CHECK(scrape.seconds < 1.0);
    CHECK(profile.sample_size() == 0);
    REQUIRE(profile.comment_size() >= 1);
    const std::string& comment = Str(profile, profile.comment(0));
    CHECK_THAT(comment, Catch::Contains("empty") && Catch::Contains(flag) &&
                            Catch::Contains("cost") && Catch::Contains("?seconds=N"));
  }
  // A window still works as before: the sleeper's two seconds of sleeps.
  Scrape window = Fetch(agent.Url(""), "/debug/pprof/block?seconds=2", 10, workload);
  Profile profile;
  CheckScrape("/block?seconds=2", window, &profile);
  CHECK(profile.duration_nanos() >= 1'900'000'000);
  CHECK(SumWhere(profile, "delay", "SleeperLoop") > 1'500'000'000);
}

// The "since" of a cumulative profile's comments ("cumulative since 2026-...Z"), or "".
std::string CumulativeSince(const Profile& profile) {
  for (int64_t index : profile.comment()) {
    const std::string& comment = Str(profile, index);
    if (comment.rfind("cumulative since ", 0) == 0) return comment.substr(17, 20);
  }
  return "";
}

TEST_CASE("A target restart starts the counters again, and the comment says since when",
          "[scrape]") {
  const std::string dir = TempDir();
  const std::string pidfile = dir + "/workload.pid";
  auto publish = [&](pid_t pid) {
    std::ofstream(pidfile + ".tmp") << pid << "\n";
    REQUIRE(std::rename((pidfile + ".tmp").c_str(), pidfile.c_str()) == 0);
  };
  auto first = std::make_unique<Subprocess>(
      std::vector<std::string>{FixturePath("scrape_workload/scrape_workload")});
  REQUIRE(WaitForReady(*first));
  publish(first->pid());
  Agent agent = Agent::WithArgs({"--pidfile", pidfile, "--block"});
  REQUIRE(agent.listening());
  std::this_thread::sleep_for(std::chrono::seconds(4));

  Profile before;
  Scrape scrape = Fetch(agent.Url(""), "/debug/pprof/block", 10, *first);
  CheckScrape("/block of the first process", scrape, &before);
  const std::string first_since = CumulativeSince(before);
  const int64_t first_delay = SumWhere(before, "delay", "SleeperLoop");
  CHECK_FALSE(first_since.empty());
  CHECK(first_delay > 3'000'000'000);  // ~4 s of sleeps

  // The service restarts: a new process, the pidfile names it.
  first.reset();
  Subprocess second({FixturePath("scrape_workload/scrape_workload")});
  REQUIRE(WaitForReady(second));
  publish(second.pid());
  Profile after;
  std::string second_since;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    Scrape again = Fetch(agent.Url(""), "/debug/pprof/block", 10, second);
    if (again.code == 200 && Decode(again, &after)) {
      second_since = CumulativeSince(after);
      if (!second_since.empty() && second_since != first_since) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO("since: " << first_since << " then " << second_since);
  REQUIRE(!second_since.empty());
  CHECK(second_since > first_since);  // RFC 3339 in UTC: later sorts after
  // Counted from the new process's start, not carried over from the old one.
  CHECK(SumWhere(after, "delay", "SleeperLoop") < first_delay);
}

}  // namespace
}  // namespace pprofd::e2e
