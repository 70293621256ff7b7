// Opened ElfFiles of one target. Looked up by identity of the file on disk (device, inode, size,
// mtime) so a file is opened once; files with equal build-ids share one ElfFile even when reached
// by different paths (containers, hard links).
//
// What keeps a file open, and for how long (each open file costs an fd and its bytes: a copy in
// memory, or the sections read for a file over 64 MiB):
// - the files the target maps right now: the AddressSpace holds them;
// - files nobody else holds any more ("idle": their module left the target's maps, yet samples
//   of it may still wait for a profile to name them): the cache keeps the most recently used
//   `max_idle_files` of them and closes the others;
// - never more than `max_open_files` files or `max_mapped_bytes` bytes of files in all: opening
//   one more first closes idle files, least recently used first; when only files in use are left,
//   the new file is refused (its frames then show as module+offset).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "base/status.h"
#include "symbolizer/elf_file.h"

namespace pprofd::symbolizer {

struct ElfCacheLimits {
  // Leaves room under systemd's default of 1024 fds for sockets, BPF objects and /proc reads.
  size_t max_open_files = 512;
  uint64_t max_mapped_bytes = uint64_t{4} << 30;  // ELF files themselves (not separate debug files)
  size_t max_idle_files = 64;
};

class ElfCache {
 public:
  explicit ElfCache(ElfCacheLimits limits = {});

  // Same arguments as ElfFile::Open. Failures are cached too (a file that cannot be opened is not
  // retried on every sample) until Clear(); a refusal at the limits is not.
  StatusOr<std::shared_ptr<ElfFile>> Get(const std::string& path, const std::string& root);
  // Marks `file` as just used, so it is among the last idle files to be closed.
  void Touch(const ElfFile* file);
  // Closes idle files beyond `max_idle_files`, least recently used first. Call when holders may
  // have let go of files (the target's maps were re-read).
  void ReleaseIdle() { (void)MakeRoom(false, 0); }
  void Clear();
  // Number of distinct files (stat identities) remembered, opened or failed.
  size_t size() const;

  // ElfFiles of this cache still open (held by the cache or by anyone else), and the bytes of
  // the files they map.
  size_t open_files() const { return lru_.size(); }
  uint64_t mapped_bytes() const { return mapped_bytes_; }
  // Of those, how many only the cache holds.
  size_t idle_files() const;
  // Files not opened because the limits were reached.
  uint64_t refusals() const { return refusals_; }
  const ElfCacheLimits& limits() const { return limits_; }

 private:
  // (device, inode, size, mtime in ns): a file replaced in place (package upgrade) is a new key.
  using FileKey = std::tuple<dev_t, ino_t, off_t, int64_t>;
  struct Opened {
    std::shared_ptr<ElfFile> file;
    uint64_t bytes = 0;
  };

  // Forgets files that were closed (and lookups leading to them).
  void Sweep();
  // Closes idle files, least recently used first, until at most `max_idle_files` are left and,
  // when `adding`, one more file of `bytes` fits in the limits. False when it still does not fit.
  bool MakeRoom(bool adding, uint64_t bytes);

  ElfCacheLimits limits_;
  // Every open file of this cache, most recently used first. A file whose only holder is this
  // list is idle.
  std::list<Opened> lru_;
  std::map<const ElfFile*, std::list<Opened>::iterator> lru_index_;
  uint64_t mapped_bytes_ = 0;
  uint64_t refusals_ = 0;
  std::map<FileKey, std::weak_ptr<ElfFile>> by_file_;
  std::map<std::string, std::weak_ptr<ElfFile>> by_build_id_;
  std::map<FileKey, Status> failures_;
};

}  // namespace pprofd::symbolizer
