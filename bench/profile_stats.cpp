// Summarizes a gzipped CPU profile served by pprofd for the benchmark scripts: how many samples,
// and what share of them has a complete stack (no "[unwind: ...]" marker and a frame that is a
// thread's or the process's entry point).
//
// usage: profile_stats PROFILE.pb.gz
// prints key=value lines: samples, complete, with_marker, reach_root, complete_pct, period,
// duration_s, then one "comment=..." line per profile comment (lost-sample counts live there).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "proto/profile.pb.h"
#include "proto/profile_builder.h"

namespace {

// Outermost frames of a fully unwound stack: glibc's thread start and process start, plus main
// for binaries whose CFI ends the chain there.
const std::set<std::string>& RootNames() {
  static const std::set<std::string> names = {
      "main",     "start_thread",      "clone3",
      "__clone3", "__clone",           "clone",
      "_start",   "__libc_start_main", "__libc_start_call_main"};
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: profile_stats PROFILE.pb.gz\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    std::fprintf(stderr, "profile_stats %s: cannot read\n", argv[1]);
    return 1;
  }
  std::string raw;
  if (!pprofd::proto::Gunzip(gz, &raw)) {
    std::fprintf(stderr, "profile_stats %s: not a complete gzip stream\n", argv[1]);
    return 1;
  }
  perftools::profiles::Profile profile;
  if (!profile.ParseFromString(raw)) {
    std::fprintf(stderr, "profile_stats %s: not a pprof profile\n", argv[1]);
    return 1;
  }
  auto str = [&](int64_t index) -> const std::string& { return profile.string_table(index); };

  std::map<uint64_t, std::string> function_names;
  for (const auto& f : profile.function()) function_names[f.id()] = str(f.name());
  std::map<uint64_t, const perftools::profiles::Location*> locations;
  for (const auto& l : profile.location()) locations[l.id()] = &l;

  int64_t samples = 0;
  int64_t complete = 0;
  int64_t with_marker = 0;
  int64_t reach_root = 0;
  for (const auto& sample : profile.sample()) {
    int64_t count = sample.value_size() > 0 ? sample.value(0) : 0;
    samples += count;
    bool marker = false;
    bool root = false;
    for (uint64_t location_id : sample.location_id()) {
      auto it = locations.find(location_id);
      if (it == locations.end()) continue;
      for (const auto& line : it->second->line()) {
        const std::string& name = function_names[line.function_id()];
        if (name.rfind("[unwind", 0) == 0 || name == "[truncated]") marker = true;
        if (RootNames().count(name) != 0) root = true;
      }
    }
    if (marker) with_marker += count;
    if (root) reach_root += count;
    if (root && !marker) complete += count;
  }
  std::printf("samples=%lld\n", static_cast<long long>(samples));
  std::printf("complete=%lld\n", static_cast<long long>(complete));
  std::printf("with_marker=%lld\n", static_cast<long long>(with_marker));
  std::printf("reach_root=%lld\n", static_cast<long long>(reach_root));
  std::printf("complete_pct=%.2f\n", samples > 0 ? 100.0 * complete / samples : 0.0);
  std::printf("period=%lld\n", static_cast<long long>(profile.period()));
  std::printf("duration_s=%.3f\n", profile.duration_nanos() * 1e-9);
  for (int64_t c : profile.comment()) std::printf("comment=%s\n", str(c).c_str());
  return 0;
}
