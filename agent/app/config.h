// The command line: parsed and validated without side effects, so every bad value gets a
// one-line error naming the flag and the valid range.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace pprofd {

struct Config {
  // The target: at most one of pid, systemd_unit, pidfile, exe; none starts the bundled demo
  // workload. All but pid are looked up again when the target exits, so pprofd follows restarts.
  pid_t pid = 0;
  std::string systemd_unit;  // its MainPID, through systemctl show
  std::string pidfile;       // a file holding the PID (as services write in /run)
  std::string exe;           // the one process whose executable is this path or base name
  std::string listen = "127.0.0.1:6060";
  // TLS: cert and key together; a client CA makes clients present a certificate it signed.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string basic_auth_file;  // lines of user:password; every request must carry one
  bool cmdline = true;          // --no-cmdline: argv often holds secrets
  int max_concurrent = 8;       // profile requests in flight; beyond it 503
  int read_timeout_s = 10;      // from a request's first byte to its last
  int idle_timeout_s = 60;      // a keep-alive connection with no request
  int max_connections = 256;    // connections open at once; beyond it a one-line 503

  int hz = 99;
  int max_hz = 1000;
  int max_seconds = 600;
  uint32_t stack_bytes = 16384;
  std::string log_level = "info";
  // Heap profiles: track allocations from start-up (uprobes on the allocator cost the target on
  // every call, so this is the user's choice; without it only ?seconds=N deltas are served).
  bool heap = false;
  uint64_t heap_rate = 512 * 1024;  // mean bytes between sampled allocations, as Go's default
  uint32_t heap_max_live = 65536;   // sampled allocations tracked until freed
  // Off-CPU profiles (/block, /mutex): waits at least this long are all recorded, shorter ones
  // with probability wait/rate, so a thread switching a million times a second costs little.
  uint64_t offcpu_rate_ns = 1000000;
  // Track /block and /mutex from start-up, as Go's profiles once their rate is set: /block and
  // /mutex without ?seconds then answer at once with everything since, as Go's do.
  bool block = false;
  bool mutex = false;
  // Distinct stacks each tracked off-CPU kind keeps; newer stacks go to one overflow stack.
  uint32_t offcpu_max_stacks = 4096;
  // BTF of the running kernel, for CO-RE; kernels without CONFIG_DEBUG_INFO_BTF need a file from
  // elsewhere (e.g. BTFHub).
  std::string btf_path = "/sys/kernel/btf/vmlinux";
  // Run on a kernel with the bpf_probe_read_user freeze bug (HasProbeReadFreezeBug), for one
  // whose vendor backported the fix without changing the version.
  bool allow_freeze_prone_kernel = false;
  bool help = false;
  bool version = false;
};

// True when pprofd looks the target up again after it exits (everything but --pid and the demo).
bool FollowsRestarts(const Config& config);

// `args` excludes argv[0].
StatusOr<Config> ParseCommandLine(const std::vector<std::string>& args);
std::string UsageText();

}  // namespace pprofd
