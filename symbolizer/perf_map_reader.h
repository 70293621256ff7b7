// One target's perf map (perf_map.h), read as perf and bcc read it: the file
// /tmp/perf-<PID>.map inside the target's root, where PID is the target's PID in its own PID
// namespace (the last field of NSpid: in /proc/PID/status). The index follows the file as it
// grows: when its size or mtime changed, what was appended is read, at most once per
// `min_check_interval`; a replaced or shrunk file is read again from the start.
//
// The file belongs to the target, so it is opened without leaving the target's root
// (openat2 RESOLVE_IN_ROOT), only if it is a regular file owned by the target's user or root,
// and read up to `max_file_bytes`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "symbolizer/perf_map.h"

namespace pprofd::symbolizer {

// What the reader needs from /proc/PID/status. Takes bytes, does no I/O.
struct ProcStatusIds {
  std::optional<pid_t> namespace_pid;  // the last NSpid field; absent on kernels before 4.1
  std::vector<uint32_t> uids;          // real, effective, saved, filesystem
};
ProcStatusIds ParseProcStatusIds(std::string_view status);

class PerfMapReader {
 public:
  struct Options {
    std::chrono::milliseconds min_check_interval{1000};
    // node --perf-basic-prof writes ~100 bytes per compiled function; 64 MiB is ~600k of them.
    size_t max_file_bytes = size_t{64} << 20;
    PerfMapLimits limits;
  };

  explicit PerfMapReader(pid_t pid) : PerfMapReader(pid, Options()) {}
  PerfMapReader(pid_t pid, Options options);

  // Reads what changed in the file, if the last check is older than min_check_interval.
  void Update();
  // The entry covering `address` as of the last Update; the name is valid until the next Update.
  std::optional<PerfMapSymbol> Find(uint64_t address) const { return index_.Find(address); }
  // Changes whenever the entries change: names looked up before may be stale.
  uint64_t generation() const { return generation_; }
  size_t entry_count() const { return index_.size(); }
  // The file as the agent opens it, e.g. "/proc/1234/root/tmp/perf-1.map"; empty before the
  // first check.
  const std::string& path() const { return path_; }

 private:
  void Check();
  Status ReadAppended(int fd, uint64_t file_size);
  bool OwnerAllowed(uid_t owner) const;

  pid_t pid_;
  Options options_;
  std::chrono::steady_clock::time_point last_check_{};
  bool checked_ = false;
  std::string relative_path_;  // "tmp/perf-<NSPID>.map", inside the target's root
  std::string path_;
  std::vector<uint32_t> target_uids_;

  PerfMapIndex index_;
  uint64_t generation_ = 0;
  // The file read so far: identity, how far it was parsed, and its size and mtime then.
  dev_t device_ = 0;
  ino_t inode_ = 0;
  uint64_t consumed_ = 0;
  uint64_t seen_size_ = 0;
  int64_t seen_mtime_ns_ = -1;
  bool skipping_long_line_ = false;
  bool full_ = false;  // a limit was reached: nothing more is read from this file
  bool announced_ = false;
};

}  // namespace pprofd::symbolizer
