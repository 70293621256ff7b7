#include "tests/e2e/agent_harness.h"

#include <algorithm>

namespace pprofd::e2e {

std::string AgentPath() { return BuildDir() + "/agent/pprofd"; }
std::string FixturePath(const std::string& name) { return BuildDir() + "/tests/fixtures/" + name; }

Agent::Agent(pid_t pid, const std::vector<std::string>& extra) {
  port_ = FreePort();
  std::vector<std::string> argv = {AgentPath(), "--pid", std::to_string(pid), "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  process_ = std::make_unique<Subprocess>(argv);
  listening_ = WaitForPort(port_, std::chrono::seconds(20));
}

std::string Agent::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

CommandResult GoPprof(const std::vector<std::string>& flags, const std::string& source) {
  static const std::string home = TempDir();
  std::vector<std::string> argv = {"env",
                                   "HOME=" + home,
                                   "PPROF_TMPDIR=" + home,
                                   "GOCACHE=" + home + "/gocache",
                                   "GOPATH=" + home + "/gopath",
                                   "go",
                                   "tool",
                                   "pprof"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(source);
  return RunCommand(argv, std::chrono::seconds(180));
}

bool FetchRawProfile(const std::string& url, RawProfile* profile, std::string* error) {
  CommandResult result = GoPprof({"-raw"}, url);
  if (result.exit_code != 0) {
    *error = "go tool pprof -raw " + url + " exited " + std::to_string(result.exit_code) + ": " +
             result.err;
    return false;
  }
  return ParseRaw(result.out, profile, error);
}

CommandResult Curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-s", "-i", "--max-time", "120"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

double SharePercent(const RawProfile& profile, const std::string& function) {
  int64_t total = profile.TotalCount();
  if (total == 0) return 0;
  int64_t with = 0;
  for (const auto& sample : profile.samples) {
    auto names = profile.Functions(sample);
    if (std::find(names.begin(), names.end(), function) != names.end()) with += sample.values[0];
  }
  return 100.0 * static_cast<double>(with) / static_cast<double>(total);
}

}  // namespace pprofd::e2e
