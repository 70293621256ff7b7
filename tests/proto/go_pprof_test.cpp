// Feeds the builder's output to the real client, `go tool pprof`, as users will.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "proto/profile_builder.h"
#include "tests/proto/sample_profile.h"

namespace pprofd::proto {
namespace {

namespace fs = std::filesystem;

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

// A private HOME/GOCACHE/PPROF_TMPDIR, so the test neither needs nor touches the user's.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "pprofd-proto-test-XXXXXX").string();
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult Run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

class GoPprof {
 public:
  GoPprof() : go_(FindInPath("go")) {}
  bool found() const { return !go_.empty(); }

  CommandResult Run(const std::string& flags, const fs::path& profile) const {
    const fs::path& home = dir_.path();
    std::string command = "env HOME='" + home.string() + "' GOCACHE='" +
                          (home / "gocache").string() + "' GOPATH='" + (home / "gopath").string() +
                          "' PPROF_TMPDIR='" + home.string() + "' PPROF_BINARY_PATH='" +
                          (home / "no-binaries").string() + "' '" + go_ + "' tool pprof " + flags +
                          " '" + profile.string() + "'";
    return proto::Run(command);
  }

  fs::path WriteProfile(const std::string& bytes) const {
    fs::path file = dir_.path() / "profile.pb.gz";
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }

  bool ok() const { return !dir_.path().empty(); }

 private:
  std::string go_;
  TempDir dir_;
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("go tool pprof reads the builder's profile", "[proto][go]") {
  GoPprof pprof;
  if (!pprof.found()) FAIL("`go` not found in PATH; install golang-go to run the pprof client");
  REQUIRE(pprof.ok());

  ProfileBuilder builder;
  testing::BuildSampleProfile(&builder);
  fs::path file = pprof.WriteProfile(builder.SerializeGzipped());

  SECTION("-raw lists every function, mapping and the header") {
    CommandResult raw = pprof.Run("-raw", file);
    INFO(raw.output);
    REQUIRE(raw.exit_code == 0);
    for (const char* name : {"ns::InlinedLeaf(int)", "ns::InlinedMiddle()", "OuterCaller", "main",
                             "__libc_start_call_main", "__memcpy_avx_unaligned_erms",
                             "libstripped.so+0x400", "[truncated]"}) {
      CHECK(Contains(raw.output, name));
    }
    CHECK(Contains(raw.output, "PeriodType: cpu nanoseconds"));
    CHECK(Contains(raw.output, "Period: 10000000"));
    CHECK(Contains(raw.output, "samples/count cpu/nanoseconds"));
    CHECK(Contains(raw.output, testing::kMainBinary));
    CHECK(Contains(raw.output, testing::kMainBuildId));
    CHECK(Contains(raw.output, "thread_name:[worker-1]"));
    CHECK(Contains(raw.output, "thread_id:[4242 id]"));
    CHECK(Contains(raw.output, "thread_id:[4243]"));
    CHECK(Contains(raw.output, "[FN][FL][LN][IN]"));
    CHECK(Contains(raw.output, "pprofd test profile"));
    // With has_functions & co. set, pprof must not try to re-symbolize the main executable.
    CHECK_FALSE(Contains(raw.output, "Local symbolization failed for pprofd-test-target"));
  }

  SECTION("-traces shows the inline chain inside one sample") {
    CommandResult traces = pprof.Run("-traces", file);
    INFO(traces.output);
    REQUIRE(traces.exit_code == 0);
    // Innermost first; the inlined frames are marked by pprof.
    size_t leaf = traces.output.find("ns::InlinedLeaf(int)");
    size_t middle = traces.output.find("ns::InlinedMiddle()");
    size_t outer = traces.output.find("OuterCaller");
    size_t main_frame = traces.output.find(" main\n");
    REQUIRE(leaf != std::string::npos);
    REQUIRE(middle != std::string::npos);
    REQUIRE(outer != std::string::npos);
    REQUIRE(main_frame != std::string::npos);
    CHECK(leaf < middle);
    CHECK(middle < outer);
    CHECK(outer < main_frame);
    CHECK(Contains(traces.output, "ns::InlinedLeaf(int) (inline)"));
    CHECK(Contains(traces.output, "ns::InlinedMiddle() (inline)"));
    CHECK_FALSE(Contains(traces.output, "OuterCaller (inline)"));
    CHECK(Contains(traces.output, "thread_name:  worker-1"));
    CHECK(Contains(traces.output, "thread_id:  4242"));
  }

  SECTION("-top weights by the default sample type") {
    CommandResult top = pprof.Run("-top", file);
    INFO(top.output);
    REQUIRE(top.exit_code == 0);
    // cpu/nanoseconds is the default: total 60ms, not 6 samples.
    CHECK(Contains(top.output, "60ms"));
  }
}

}  // namespace
}  // namespace pprofd::proto
