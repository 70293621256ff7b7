#include "tests/e2e/harness/agent_harness.h"

#include <dirent.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

namespace pprofd::e2e {

std::string AgentPath() { return BuildDir() + "/agent/pprofd"; }
std::string FixturePath(const std::string& name) { return BuildDir() + "/tests/fixtures/" + name; }

Agent::Agent(pid_t pid, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--pid", std::to_string(pid)};
  args.insert(args.end(), extra.begin(), extra.end());
  Launch(std::move(args));
}

Agent Agent::WithArgs(const std::vector<std::string>& target_and_flags) {
  Agent agent;
  agent.Launch(target_and_flags);
  return agent;
}

void Agent::Launch(std::vector<std::string> args) {
  port_ = FreePort();
  std::vector<std::string> argv = {AgentPath(), "--listen", "127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
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

bool WaitForStdout(Subprocess& process, const std::string& text,
                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process.Stdout().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool WaitForStderr(Subprocess& process, const std::string& text,
                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process.Stderr().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool WaitForReady(Subprocess& process) {
  return WaitForStdout(process, "ready", std::chrono::seconds(5));
}

ProfileAcrossExit FetchProfileKillingTarget(const Agent& agent, Subprocess& workload, int seconds,
                                            std::chrono::milliseconds kill_after) {
  ProfileAcrossExit result;
  const auto started = std::chrono::steady_clock::now();
  auto fetched = std::async(std::launch::async, [&] {
    return FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=" + std::to_string(seconds)),
                           &result.profile, &result.error);
  });
  std::this_thread::sleep_for(kill_after);
  workload.Signal(SIGKILL);
  if (!workload.Wait(std::chrono::seconds(5)).has_value()) {
    result.error = "the workload did not die within 5 s of SIGKILL";
  }
  result.ok = fetched.get() && result.error.empty();
  result.took_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

int StatusCode(const std::string& curl_output) {
  static const std::regex kStatus(R"(HTTP/1\.[01] (\d{3}))");
  int code = -1;
  for (auto it = std::sregex_iterator(curl_output.begin(), curl_output.end(), kStatus);
       it != std::sregex_iterator(); ++it) {
    code = std::stoi((*it)[1]);
  }
  return code;
}

std::string BodyOf(const std::string& http_response) {
  const size_t end = http_response.find("\r\n\r\n");
  return end == std::string::npos ? "" : http_response.substr(end + 4);
}

std::string JoinComments(const RawProfile& profile) {
  std::string all;
  for (const auto& comment : profile.comments) all += comment + " | ";
  return all;
}

std::vector<std::map<std::string, std::string>> ProcessFdInfos(pid_t pid) {
  std::vector<std::map<std::string, std::string>> infos;
  const std::string dir_path = "/proc/" + std::to_string(pid) + "/fdinfo";
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return infos;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream in(dir_path + "/" + entry->d_name);
    std::map<std::string, std::string> info;
    for (std::string line; std::getline(in, line);) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const size_t value = line.find_first_not_of(" \t", colon + 1);
      info[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
    }
    infos.push_back(std::move(info));
  }
  ::closedir(dir);
  return infos;
}

std::set<int> BpfLinkProgramIds(pid_t pid) {
  std::set<int> ids;
  for (const auto& info : ProcessFdInfos(pid)) {
    if (info.count("link_type") && info.count("prog_id")) ids.insert(std::stoi(info.at("prog_id")));
  }
  return ids;
}

int BpfLinkCount(pid_t pid) {
  int count = 0;
  for (const auto& info : ProcessFdInfos(pid)) count += info.count("link_type") ? 1 : 0;
  return count;
}

bool ReadUprobeEvents(std::string* text, std::string* error) {
  const char* const kPaths[] = {"/sys/kernel/tracing/uprobe_events",
                                "/sys/kernel/debug/tracing/uprobe_events"};
  auto read_first = [&]() {
    for (const char* path : kPaths) {
      std::ifstream in(path);
      if (!in) continue;
      std::stringstream content;
      content << in.rdbuf();
      *text = content.str();
      return true;
    }
    return false;
  };
  if (read_first()) return true;
  // Neither is mounted: tracefs at its own place, else debugfs (which mounts tracefs inside).
  if (::mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0 &&
      ::mount("nodev", "/sys/kernel/debug", "debugfs", 0, nullptr) != 0) {
    *error = std::string("mount tracefs or debugfs: ") + std::strerror(errno);
    return false;
  }
  if (read_first()) return true;
  *error = "no uprobe_events under /sys/kernel/tracing or /sys/kernel/debug/tracing";
  return false;
}

}  // namespace pprofd::e2e
