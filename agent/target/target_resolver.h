// Finds the PID of a target named by something that outlives one process: a systemd unit, a
// pidfile, an executable. pprofd resolves it at start-up and again after each exit, so it follows
// restarts. The parsers are pure (bytes in, no I/O) and have unit tests; TargetResolver does the
// I/O around them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd::target {

enum class TargetKind { kSystemdUnit, kPidfile, kExe };

struct TargetSpec {
  TargetKind kind = TargetKind::kPidfile;
  std::string value;  // the unit name, the pidfile's path, the executable's path or base name
};

// How logs and errors name the target: "unit nginx.service", "pidfile /run/x.pid",
// "executable nginx".
std::string Describe(const TargetSpec& spec);
// The flag and its value as the user typed them: "--pidfile /run/x.pid".
std::string FlagOf(const TargetSpec& spec);

// --- Pure parsers ---

// The content of a pidfile: one decimal PID, surrounding whitespace allowed. Errors say what the
// file held, without naming the file.
StatusOr<pid_t> ParsePidfile(std::string_view text);

// The output of `systemctl show -p MainPID UNIT`: a line "MainPID=1234". 0 means the unit has no
// running main process (stopped, failed, or between restarts); it is returned as 0, not an error.
StatusOr<pid_t> ParseSystemctlMainPid(std::string_view output);

// readlink /proc/PID/exe without the " (deleted)" the kernel appends once the file was replaced or
// removed (as a package upgrade does to a running service).
std::string_view StripDeletedSuffix(std::string_view exe_link);

// True when `exe_link` (readlink /proc/PID/exe) is what --exe `want` names: the same path when
// `want` holds a '/', else an executable whose base name is `want`.
bool ExeMatches(std::string_view want, std::string_view exe_link);

struct ProcessExe {
  pid_t pid = 0;
  std::string exe_link;  // readlink /proc/PID/exe
};

// The one process of `processes` that --exe `want` names, never `self` (pprofd). Errors name the
// flag: none, or several (listing their PIDs, as "--exe foo matches 3 processes (PIDs 10, 11,
// 12): use --pid or --pidfile").
StatusOr<pid_t> PickExeMatch(std::string_view want, const std::vector<ProcessExe>& processes,
                             pid_t self);

// --- I/O ---

// Every process of /proc whose executable can be read (kernel threads and zombies have none).
std::vector<ProcessExe> ListProcessExes();

// Fails unless `pid` is a live process: no such process, or a zombie (exited, not yet reaped).
Status CheckRunning(pid_t pid);

// Runs `systemctl show -p MainPID UNIT` (systemctl as found on PATH, no shell) and returns its
// stdout; fails when it cannot start, exits non-zero, or does not finish within `timeout`.
StatusOr<std::string> RunSystemctlShow(const std::string& unit, std::chrono::milliseconds timeout);

class TargetResolver {
 public:
  explicit TargetResolver(TargetSpec spec) : spec_(std::move(spec)) {}

  // The PID of the live process the spec names now. Errors are one line starting with the flag,
  // e.g. "--pidfile /run/x.pid: no such file; is the service running?".
  StatusOr<pid_t> Resolve() const;
  const TargetSpec& spec() const { return spec_; }
  std::string Description() const { return Describe(spec_); }

 private:
  StatusOr<pid_t> ResolvePidfile() const;
  StatusOr<pid_t> ResolveSystemdUnit() const;

  TargetSpec spec_;
};

}  // namespace pprofd::target
