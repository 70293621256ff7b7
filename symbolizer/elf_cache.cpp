#include "symbolizer/elf_cache.h"

#include <sys/stat.h>

#include <cerrno>

namespace pprofd::symbolizer {

StatusOr<std::shared_ptr<ElfFile>> ElfCache::Get(const std::string& path, const std::string& root) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path, errno);
  FileKey key{st.st_dev, st.st_ino, st.st_size,
              static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  if (auto it = by_file_.find(key); it != by_file_.end()) return it->second;
  if (auto it = failures_.find(key); it != failures_.end()) return it->second;

  auto opened = ElfFile::Open(path, root);
  if (!opened.ok()) {
    failures_.emplace(key, opened.status());
    return opened.status();
  }
  std::shared_ptr<ElfFile> file = std::move(opened).value();
  if (!file->build_id().empty()) {
    auto& shared = by_build_id_[file->build_id()];
    if (std::shared_ptr<ElfFile> existing = shared.lock()) {
      file = existing;  // the same object reached through another path
    } else {
      shared = file;
    }
  }
  by_file_.emplace(key, file);
  return file;
}

void ElfCache::Clear() {
  by_file_.clear();
  by_build_id_.clear();
  failures_.clear();
}

size_t ElfCache::size() const { return by_file_.size() + failures_.size(); }

}  // namespace pprofd::symbolizer
