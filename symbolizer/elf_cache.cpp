#include "symbolizer/elf_cache.h"

#include <sys/stat.h>

#include <cerrno>

#include "base/log.h"

namespace pprofd::symbolizer {
namespace {

// Failed opens remembered at most; past that the memory starts over (a target creating files
// that are not ELF objects faster than that is retried, not remembered forever).
constexpr size_t kMaxRememberedFailures = 4096;

}  // namespace

ElfCache::ElfCache(ElfCacheLimits limits) : limits_(limits) {}

void ElfCache::Touch(const ElfFile* file) {
  auto it = lru_index_.find(file);
  if (it == lru_index_.end() || it->second == lru_.begin()) return;
  lru_.splice(lru_.begin(), lru_, it->second);
}

size_t ElfCache::idle_files() const {
  size_t idle = 0;
  for (const Opened& opened : lru_) idle += opened.file.use_count() == 1 ? 1 : 0;
  return idle;
}

bool ElfCache::MakeRoom(bool adding, uint64_t bytes) {
  size_t idle = idle_files();
  auto fits = [&] {
    if (idle > limits_.max_idle_files) return false;
    if (!adding) return true;
    return lru_.size() + 1 <= limits_.max_open_files &&
           mapped_bytes_ + bytes <= limits_.max_mapped_bytes;
  };
  for (auto it = lru_.end(); !fits() && it != lru_.begin();) {
    --it;
    if (it->file.use_count() != 1) continue;  // in use: the target maps it
    lru_index_.erase(it->file.get());
    mapped_bytes_ -= it->bytes;
    it = lru_.erase(it);  // closes the file
    --idle;
  }
  return fits();
}

void ElfCache::Sweep() {
  std::erase_if(by_file_, [](const auto& entry) { return entry.second.expired(); });
  std::erase_if(by_build_id_, [](const auto& entry) { return entry.second.expired(); });
}

StatusOr<std::shared_ptr<ElfFile>> ElfCache::Get(const std::string& path, const std::string& root) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path, errno);
  FileKey key{st.st_dev, st.st_ino, st.st_size,
              static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  if (auto it = by_file_.find(key); it != by_file_.end()) {
    if (std::shared_ptr<ElfFile> file = it->second.lock()) {
      Touch(file.get());
      return file;
    }
    by_file_.erase(it);  // closed since: open it again
  }
  if (auto it = failures_.find(key); it != failures_.end()) return it->second;

  const uint64_t bytes = static_cast<uint64_t>(st.st_size);
  if (!MakeRoom(true, bytes)) {
    ++refusals_;
    return Status::Error(StrCat(
        "not opening ", path, ": pprofd already holds ", lru_.size(), " ELF files (",
        mapped_bytes_ >> 20,
        " MiB) of this target open, all in use by its current mappings; the "
        "limits are ",
        limits_.max_open_files, " files and ", limits_.max_mapped_bytes >> 20, " MiB per target"));
  }
  auto opened = ElfFile::Open(path, root);
  if (!opened.ok()) {
    if (failures_.size() >= kMaxRememberedFailures) failures_.clear();
    failures_.emplace(key, opened.status());
    return opened.status();
  }
  std::shared_ptr<ElfFile> file = std::move(opened).value();
  if (FileKey{file->device(), file->inode(), static_cast<off_t>(file->file_size()),
              file->mtime_ns()} != key) {
    // Replaced between the stat and the open: not the file the caller located (and checked
    // against the target's maps). Not remembered: the next lookup starts over.
    return Status::Error(StrCat(path, ": changed while being opened"));
  }
  if (!file->build_id().empty()) {
    auto& shared = by_build_id_[file->build_id()];
    if (std::shared_ptr<ElfFile> existing = shared.lock()) {
      file = existing;  // the same object reached through another path
    } else {
      shared = file;
    }
  }
  // Lookups of files closed since are forgotten once they outnumber the open files.
  if (by_file_.size() >= 2 * lru_.size() + 64) Sweep();
  by_file_[key] = file;
  if (lru_index_.count(file.get()) == 0) {
    lru_.push_front(Opened{file, bytes});
    lru_index_.emplace(file.get(), lru_.begin());
    mapped_bytes_ += bytes;
  } else {
    Touch(file.get());
  }
  return file;
}

void ElfCache::Clear() {
  lru_index_.clear();
  lru_.clear();
  mapped_bytes_ = 0;
  by_file_.clear();
  by_build_id_.clear();
  failures_.clear();
}

size_t ElfCache::size() const { return by_file_.size() + failures_.size(); }

}  // namespace pprofd::symbolizer
