#include "symbolizer/perf_map_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "base/file_util.h"
#include "base/log.h"
#include "base/open_in_root.h"
#include "base/scoped_fd.h"

namespace pprofd::symbolizer {
namespace {

// Read in chunks so a large map never needs one large buffer; a chunk holds many whole lines.
constexpr size_t kChunkBytes = size_t{1} << 20;

// The whitespace-separated decimal numbers after "Key:" on the line starting with it.
std::vector<uint64_t> StatusNumbers(std::string_view status, std::string_view key) {
  std::vector<uint64_t> numbers;
  size_t at = 0;
  while (at < status.size()) {
    size_t eol = status.find('\n', at);
    if (eol == std::string_view::npos) eol = status.size();
    std::string_view line = status.substr(at, eol - at);
    at = eol + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
      continue;
    }
    line.remove_prefix(key.size() + 1);
    while (!line.empty()) {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      if (line.empty()) break;
      uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
      if (ec != std::errc() || ptr == line.data()) return {};
      numbers.push_back(value);
      line.remove_prefix(static_cast<size_t>(ptr - line.data()));
    }
    return numbers;
  }
  return numbers;
}

}  // namespace

ProcStatusIds ParseProcStatusIds(std::string_view status) {
  ProcStatusIds ids;
  std::vector<uint64_t> ns_pids = StatusNumbers(status, "NSpid");
  if (!ns_pids.empty() && ns_pids.back() > 0 && ns_pids.back() <= 0x7fffffff) {
    ids.namespace_pid = static_cast<pid_t>(ns_pids.back());
  }
  for (uint64_t uid : StatusNumbers(status, "Uid")) {
    if (uid <= 0xffffffffu) ids.uids.push_back(static_cast<uint32_t>(uid));
  }
  return ids;
}

PerfMapReader::PerfMapReader(pid_t pid, Options options)
    : pid_(pid), options_(options), index_(options.limits.max_entries) {}

void PerfMapReader::Update() {
  const auto now = std::chrono::steady_clock::now();
  if (checked_ && now - last_check_ < options_.min_check_interval) return;
  checked_ = true;
  last_check_ = now;
  Check();
}

bool PerfMapReader::OwnerAllowed(uid_t owner) const {
  return owner == 0 ||
         std::find(target_uids_.begin(), target_uids_.end(), owner) != target_uids_.end();
}

void PerfMapReader::Check() {
  const std::string proc = StrCat("/proc/", pid_);
  if (relative_path_.empty()) {
    auto status = ReadFileToString(proc + "/status");
    if (!status.ok()) return;  // the target is gone; its frames keep their anonymous names
    ProcStatusIds ids = ParseProcStatusIds(*status);
    relative_path_ = StrCat("tmp/perf-", ids.namespace_pid.value_or(pid_), ".map");
    path_ = StrCat(proc, "/root/", relative_path_);
    target_uids_ = std::move(ids.uids);
  }
  auto root = OpenRootDirectory(proc + "/root");
  if (!root.ok()) return;
  // Resolved inside the target's root (symlinks and ".." cannot leave it), and opened only as a
  // regular file, so a FIFO planted there cannot hang the profiler thread.
  auto opened = OpenRegularFileInRoot(root->get(), relative_path_);
  if (!opened.ok()) {
    // Most processes have no perf map: say something only when one is there but is no file.
    if (!announced_ && ResolveInRoot(root->get(), relative_path_).ok()) {
      LogWarning(StrCat(path_, " is not a regular file: JIT frames keep anonymous names"));
      announced_ = true;
    }
    return;
  }
  ScopedFd file = std::move(opened->fd);
  struct stat st = {};
  if (::fstat(file.get(), &st) != 0) return;
  if (!OwnerAllowed(st.st_uid)) {
    if (!announced_) {
      LogWarning(StrCat(path_, " belongs to uid ", st.st_uid,
                        ", neither the target's user nor root: ignored (another user may have "
                        "planted it)"));
    }
    announced_ = true;
    return;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  if (st.st_dev != device_ || st.st_ino != inode_ || size < consumed_) {
    // A new file (first sight, or the process replaced it): read it from the start.
    if (index_.size() > 0) {
      index_.Clear();
      ++generation_;
    }
    device_ = st.st_dev;
    inode_ = st.st_ino;
    consumed_ = 0;
    skipping_long_line_ = false;
    full_ = false;
  } else if (size == seen_size_ && mtime_ns == seen_mtime_ns_) {
    return;
  }
  seen_size_ = size;
  seen_mtime_ns_ = mtime_ns;
  if (!announced_) LogInfo(StrCat("naming JIT code from ", path_));
  announced_ = true;
  if (full_) return;
  if (Status s = ReadAppended(file.get(), size); !s.ok()) {
    LogWarning(StrCat(path_, ": ", s.message()));
  }
}

Status PerfMapReader::ReadAppended(int fd, uint64_t file_size) {
  const uint64_t end = std::min<uint64_t>(file_size, options_.max_file_bytes);
  size_t added = 0;
  size_t malformed = 0;
  std::string chunk;
  while (consumed_ < end) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, end - consumed_));
    chunk.resize(want);
    ssize_t n = ::pread(fd, chunk.data(), want, static_cast<off_t>(consumed_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read", errno);
    if (n == 0) break;
    std::string_view data(chunk.data(), static_cast<size_t>(n));
    const bool last_chunk = static_cast<size_t>(n) < want || consumed_ + data.size() >= end;
    if (skipping_long_line_) {
      // The rest of a line longer than a chunk: drop it up to its newline.
      const size_t eol = data.find('\n');
      consumed_ += eol == std::string_view::npos ? data.size() : eol + 1;
      if (eol != std::string_view::npos) skipping_long_line_ = false;
      if (last_chunk && eol == std::string_view::npos) break;
      continue;
    }
    PerfMapParse parse = ParsePerfMap(data, options_.limits);
    malformed += parse.malformed_lines + parse.long_lines;
    added += parse.entries.size();
    if (!index_.Add(parse.entries) || parse.entry_limit_reached) {
      full_ = true;
      LogWarning(StrCat(path_, ": over ", options_.limits.max_entries,
                        " entries; code described later in it keeps anonymous names"));
      break;
    }
    consumed_ += parse.consumed;
    if (last_chunk) break;  // an unfinished last line waits for the writer
    if (parse.consumed == 0) {
      consumed_ += data.size();  // a whole chunk without a newline
      skipping_long_line_ = true;
    }
  }
  if (file_size > options_.max_file_bytes && !full_) {
    full_ = true;
    LogWarning(StrCat(path_, " is over ", options_.max_file_bytes,
                      " bytes; code described later in it keeps anonymous names"));
  }
  if (added > 0) ++generation_;
  if (malformed > 0) {
    LogDebug(StrCat(path_, ": skipped ", malformed, " lines that are not \"START SIZE name\""));
  }
  return Status::Ok();
}

}  // namespace pprofd::symbolizer
