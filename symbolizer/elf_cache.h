// Opened ElfFiles, shared across requests and processes. Looked up by identity of the file on disk
// (device, inode, size, mtime) so a file is opened once; files with equal build-ids share one
// ElfFile even when reached by different paths (containers, hard links).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "base/status.h"
#include "symbolizer/elf_file.h"

namespace pprofd::symbolizer {

class ElfCache {
 public:
  // Same arguments as ElfFile::Open. Failures are cached too (a file that cannot be opened is not
  // retried on every sample) until Clear().
  StatusOr<std::shared_ptr<ElfFile>> Get(const std::string& path, const std::string& root);
  void Clear();
  // Number of distinct files (stat identities) remembered, opened or failed.
  size_t size() const;

 private:
  // (device, inode, size, mtime in ns): a file replaced in place (package upgrade) is a new key.
  using FileKey = std::tuple<dev_t, ino_t, off_t, int64_t>;
  std::map<FileKey, std::shared_ptr<ElfFile>> by_file_;
  std::map<std::string, std::weak_ptr<ElfFile>> by_build_id_;
  std::map<FileKey, Status> failures_;
};

}  // namespace pprofd::symbolizer
