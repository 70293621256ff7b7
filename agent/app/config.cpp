#include "agent/app/config.h"

#include <charconv>
#include <functional>
#include <map>

#include "agent/http/listen_address.h"
#include "base/log.h"

namespace pprofd {
namespace {

Status ParseInt(const std::string& flag, const std::string& value, int64_t min, int64_t max,
                int64_t* out) {
  int64_t parsed = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (ec != std::errc() || ptr != value.data() + value.size() || value.empty() || parsed < min ||
      parsed > max) {
    return Status::Error(
        StrCat("bad ", flag, " '", value, "': want an integer from ", min, " to ", max));
  }
  *out = parsed;
  return Status::Ok();
}

}  // namespace

std::string UsageText() {
  return R"(usage: pprofd [--pid PID | --systemd-unit UNIT | --pidfile PATH | --exe NAME] [options]

Serves Go-style /debug/pprof/ profiles of a running native process.
Without a target, starts the bundled demo workload and profiles it.

Target (one of):
  --pid PID            process to profile; pprofd exits when it exits
  --systemd-unit UNIT  the unit's main process (from its cgroup, else systemctl); followed across
                       restarts
  --pidfile PATH       the process whose PID the file holds; followed across restarts
  --exe NAME           the one process whose executable is NAME (a path, or a base name);
                       followed across restarts

Network:
  --listen HOST:PORT   HTTP address (default 127.0.0.1:6060)
  --tls-cert PATH      serve HTTPS with this certificate chain (PEM); needs --tls-key
  --tls-key PATH       the certificate's private key (PEM)
  --tls-client-ca PATH require client certificates signed by this CA (PEM)
  --basic-auth-file PATH
                       require HTTP Basic auth; lines of user:password
  --no-cmdline         do not serve /debug/pprof/cmdline (argv often holds secrets)
  --max-concurrent N   profile requests served at once; more get 503 (default 8)
  --read-timeout S     seconds a client has to send a whole request (default 10)
  --idle-timeout S     seconds a keep-alive connection may wait for its next request
                       (default 60)
  --max-connections N  connections open at once; more get a one-line 503 (default 256)

Profiling:
  --hz N               default CPU sampling rate, overridable per request with ?hz= (default 99)
  --max-hz N           highest ?hz= accepted (default 1000)
  --max-seconds N      longest ?seconds= accepted (default 600)
  --stack-bytes N      bytes of user stack copied per sample, a multiple of 4096 up to 65536
                       (default 16384; deep recursion needs more)
  --btf PATH           BTF of the running kernel, for kernels without
                       /sys/kernel/btf/vmlinux (default /sys/kernel/btf/vmlinux)
  --heap               track allocations from start-up, for /debug/pprof/heap and /allocs
                       (costs the target about 1.4 us per malloc+free pair, see
                       docs/benchmarks.md; without it, /heap?seconds=N probes the
                       allocator for those N seconds only)
  --heap-rate BYTES    mean bytes allocated between sampled allocations (default 524288, as
                       Go; 1 samples every allocation)
  --heap-max-live N    sampled allocations tracked until freed (default 65536); beyond it they
                       are counted and reported, not tracked
  --offcpu-rate NS     /block and /mutex record every wait at least NS nanoseconds long and a
                       shorter one with probability wait/NS, as Go's block profile rate
                       (default 1000000; 1 records every wait)
  --block              track off-CPU waits from start-up: /block (and /delta_block) without
                       ?seconds answer at once with everything since, as Go's with a rate set
                       (costs the target about 0.75 us per sleep of its threads, see
                       docs/benchmarks.md); without it they answer with an empty profile
  --mutex              the same for futex waits: /mutex and /delta_mutex (costs every system
                       call of the host the kernel's tracing path, about 5%)
  --offcpu-max-stacks N
                       distinct stacks --block and --mutex each keep (default 4096); waits on
                       newer stacks are added to one overflow stack and counted in /metrics
  --allow-freeze-prone-kernel
                       run on a kernel of the series with the bpf_probe_read_user freeze
                       bug (5.19, 6.0, 6.2, 6.1 before 6.1.36, 6.3 before 6.3.10), which
                       pprofd otherwise refuses: only for a kernel known to carry the fix
  --log-level LEVEL    debug, info, warning or error (default info)
  --version            print the version
  --help               print this help
)";
}

StatusOr<Config> ParseCommandLine(const std::vector<std::string>& args) {
  Config config;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    if (flag == "--help" || flag == "-h") {
      config.help = true;
      continue;
    }
    if (flag == "--version") {
      config.version = true;
      continue;
    }
    if (flag == "--heap" && !has_value) {
      config.heap = true;
      continue;
    }
    if (flag == "--block" && !has_value) {
      config.block = true;
      continue;
    }
    if (flag == "--mutex" && !has_value) {
      config.mutex = true;
      continue;
    }
    if (flag == "--no-cmdline" && !has_value) {
      config.cmdline = false;
      continue;
    }
    if (flag == "--allow-freeze-prone-kernel" && !has_value) {
      config.allow_freeze_prone_kernel = true;
      continue;
    }
    static const char* kWithValue[] = {"--pid",
                                       "--systemd-unit",
                                       "--pidfile",
                                       "--exe",
                                       "--listen",
                                       "--tls-cert",
                                       "--tls-key",
                                       "--tls-client-ca",
                                       "--basic-auth-file",
                                       "--max-concurrent",
                                       "--read-timeout",
                                       "--idle-timeout",
                                       "--max-connections",
                                       "--hz",
                                       "--max-hz",
                                       "--max-seconds",
                                       "--stack-bytes",
                                       "--log-level",
                                       "--btf",
                                       "--heap-rate",
                                       "--heap-max-live",
                                       "--offcpu-rate",
                                       "--offcpu-max-stacks"};
    // Flags whose value is a name or path: empty is never meant.
    static const char* kNonEmpty[] = {"--systemd-unit",   "--pidfile", "--exe",
                                      "--tls-cert",       "--tls-key", "--tls-client-ca",
                                      "--basic-auth-file"};
    bool known = false;
    for (const char* name : kWithValue) known = known || flag == name;
    if (!known && !args[i].starts_with("-")) {
      return Status::Error(
          StrCat("unexpected argument '", args[i], "': pass the process to profile as --pid PID"));
    }
    if (!known) {
      return Status::Error(StrCat("unknown option '", args[i], "': see pprofd --help"));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return Status::Error(StrCat(flag, " needs a value: see pprofd --help"));
      }
      value = args[++i];
    }
    for (const char* name : kNonEmpty) {
      if (flag == name && value.empty()) {
        return Status::Error(StrCat("bad ", flag, " '': want a non-empty value"));
      }
    }
    int64_t number = 0;
    Status status;
    if (flag == "--pid") {
      status = ParseInt(flag, value, 1, 4194304, &number);
      config.pid = static_cast<pid_t>(number);
    } else if (flag == "--systemd-unit") {
      config.systemd_unit = value;
    } else if (flag == "--pidfile") {
      config.pidfile = value;
    } else if (flag == "--exe") {
      config.exe = value;
    } else if (flag == "--tls-cert") {
      config.tls_cert = value;
    } else if (flag == "--tls-key") {
      config.tls_key = value;
    } else if (flag == "--tls-client-ca") {
      config.tls_client_ca = value;
    } else if (flag == "--basic-auth-file") {
      config.basic_auth_file = value;
    } else if (flag == "--max-concurrent") {
      status = ParseInt(flag, value, 1, 1000, &number);
      config.max_concurrent = static_cast<int>(number);
    } else if (flag == "--read-timeout") {
      status = ParseInt(flag, value, 1, 3600, &number);
      config.read_timeout_s = static_cast<int>(number);
    } else if (flag == "--idle-timeout") {
      status = ParseInt(flag, value, 1, 86400, &number);
      config.idle_timeout_s = static_cast<int>(number);
    } else if (flag == "--max-connections") {
      status = ParseInt(flag, value, 1, 100000, &number);
      config.max_connections = static_cast<int>(number);
    } else if (flag == "--listen") {
      // Checked here so a typo is a command-line error (exit 2), not a start-up failure.
      if (auto endpoint = http::ParseListenAddress(value); !endpoint.ok()) return endpoint.status();
      config.listen = value;
    } else if (flag == "--hz") {
      status = ParseInt(flag, value, 1, 10000, &number);
      config.hz = static_cast<int>(number);
    } else if (flag == "--max-hz") {
      status = ParseInt(flag, value, 1, 10000, &number);
      config.max_hz = static_cast<int>(number);
    } else if (flag == "--max-seconds") {
      status = ParseInt(flag, value, 1, 86400, &number);
      config.max_seconds = static_cast<int>(number);
    } else if (flag == "--stack-bytes") {
      status = ParseInt(flag, value, 4096, 65536, &number);
      if (status.ok() && number % 4096 != 0) {
        status = Status::Error(
            StrCat("bad --stack-bytes '", value, "': want a multiple of 4096 up to 65536"));
      }
      config.stack_bytes = static_cast<uint32_t>(number);
    } else if (flag == "--heap-rate") {
      status = ParseInt(flag, value, 1, int64_t{1} << 30, &number);
      config.heap_rate = static_cast<uint64_t>(number);
    } else if (flag == "--heap-max-live") {
      status = ParseInt(flag, value, 16, 16 << 20, &number);
      config.heap_max_live = static_cast<uint32_t>(number);
    } else if (flag == "--offcpu-rate") {
      status = ParseInt(flag, value, 1, int64_t{10} * 1000000000, &number);
      config.offcpu_rate_ns = static_cast<uint64_t>(number);
    } else if (flag == "--offcpu-max-stacks") {
      status = ParseInt(flag, value, 16, 1 << 20, &number);
      config.offcpu_max_stacks = static_cast<uint32_t>(number);
    } else if (flag == "--log-level") {
      if (value != "debug" && value != "info" && value != "warning" && value != "error") {
        return Status::Error(
            StrCat("bad --log-level '", value, "': want debug, info, warning or error"));
      }
      config.log_level = value;
    } else if (flag == "--btf") {
      if (value.empty()) {
        return Status::Error("bad --btf '': want the path of the kernel's BTF file");
      }
      config.btf_path = value;
    }
    if (!status.ok()) return status;
  }
  const int targets = (config.pid != 0) + !config.systemd_unit.empty() + !config.pidfile.empty() +
                      !config.exe.empty();
  if (targets > 1) {
    return Status::Error(
        "--pid, --systemd-unit, --pidfile and --exe each name the target: pass only one");
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Status::Error("--tls-cert and --tls-key go together: pass both, or neither for HTTP");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    return Status::Error(
        "--tls-client-ca needs --tls-cert and --tls-key: client certificates are a TLS feature");
  }
  if (config.hz > config.max_hz) {
    return Status::Error(StrCat("--hz ", config.hz, " is above --max-hz ", config.max_hz,
                                ": lower --hz or raise --max-hz"));
  }
  return config;
}

bool FollowsRestarts(const Config& config) {
  return !config.systemd_unit.empty() || !config.pidfile.empty() || !config.exe.empty();
}

}  // namespace pprofd
