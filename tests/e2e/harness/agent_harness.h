// Starts the real pprofd against a real process and fetches profiles with the real client.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/harness/pprof_raw.h"
#include "tests/e2e/harness/subprocess.h"

namespace pprofd::e2e {

class Agent {
 public:
  // Starts pprofd --pid `pid` on a free port and waits until it listens; `extra` are more flags.
  explicit Agent(pid_t pid, const std::vector<std::string>& extra = {});
  // Starts pprofd with exactly `target_and_flags` (no --pid added; --listen is added) and waits
  // until it listens, e.g. Agent::WithArgs({"--pidfile", path}).
  static Agent WithArgs(const std::vector<std::string>& target_and_flags);
  bool listening() const { return listening_; }
  int port() const { return port_; }
  std::string Url(const std::string& path) const;  // path like "/debug/pprof/profile?seconds=5"
  Subprocess& process() { return *process_; }

 private:
  Agent() = default;
  void Launch(std::vector<std::string> argv);

  int port_ = 0;
  bool listening_ = false;
  std::unique_ptr<Subprocess> process_;
};

// `go tool pprof <flags> <url-or-file>` with a private HOME; fails the test on a non-zero exit.
CommandResult GoPprof(const std::vector<std::string>& flags, const std::string& source);
// Fetches `url` with `go tool pprof -raw` and parses it; error text in *error on failure.
bool FetchRawProfile(const std::string& url, RawProfile* profile, std::string* error);
// curl -s -i: status line, headers and body.
CommandResult Curl(const std::vector<std::string>& args);

// Share (0-100) of `samples` whose stack contains `function`, weighted by the sample count.
double SharePercent(const RawProfile& profile, const std::string& function);

// The non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text);
// Status code of `curl -i` output (the last status line, after any 100 Continue); -1 if none.
int StatusCode(const std::string& curl_output);
// The body of a raw HTTP response (after the blank line).
std::string BodyOf(const std::string& http_response);
// Every comment of `profile`, joined with " | " (for test messages).
std::string JoinComments(const RawProfile& profile);

// Waits until `process` has printed `text` on stdout; false after `timeout`.
bool WaitForStdout(Subprocess& process, const std::string& text, std::chrono::milliseconds timeout);
// The same for stderr (where pprofd logs).
bool WaitForStderr(Subprocess& process, const std::string& text, std::chrono::milliseconds timeout);
// Waits up to 5 s for a fixture workload's "ready" line.
bool WaitForReady(Subprocess& process);

// A CPU profile of `seconds` asked of `agent` while its target `workload` is killed (SIGKILL)
// `kill_after` into it; the target is reaped before this returns.
struct ProfileAcrossExit {
  bool ok = false;
  RawProfile profile;
  std::string error;
  double took_seconds = 0;  // from the request to the answer
};
ProfileAcrossExit FetchProfileKillingTarget(const Agent& agent, Subprocess& workload, int seconds,
                                            std::chrono::milliseconds kill_after);

// The "key:\tvalue" lines of /proc/PID/fdinfo/FD for every fd of `pid` (BPF objects show their
// prog_id, link_id, link_type there).
std::vector<std::map<std::string, std::string>> ProcessFdInfos(pid_t pid);
// IDs of the BPF programs behind the BPF links process `pid` holds (one entry per program).
std::set<int> BpfLinkProgramIds(pid_t pid);
// Number of BPF links process `pid` holds.
int BpfLinkCount(pid_t pid);
// The text of tracefs's uprobe_events (mounts tracefs or debugfs if neither is mounted); error
// text in *error when it cannot be read.
bool ReadUprobeEvents(std::string* text, std::string* error);

std::string AgentPath();
std::string FixturePath(const std::string& name);  // a binary under tests/fixtures/

}  // namespace pprofd::e2e
