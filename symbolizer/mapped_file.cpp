#include "symbolizer/mapped_file.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace pprofd::symbolizer {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

std::optional<FileMatch> StatMatch(const std::string& path, const MapEntry& entry) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) return FileMatch::kOther;
  return MatchMappedFile(entry, st.st_dev, st.st_ino);
}

}  // namespace

FileMatch MatchMappedFile(const MapEntry& entry, dev_t st_dev, ino_t st_ino) {
  if (entry.inode == 0 || static_cast<uint64_t>(st_ino) != entry.inode) return FileMatch::kOther;
  if (major(st_dev) == entry.dev_major && minor(st_dev) == entry.dev_minor) return FileMatch::kSame;
  return FileMatch::kSameInode;
}

std::string PathInTargetRoot(std::string_view maps_path, std::string_view root_link) {
  while (root_link.size() > 1 && root_link.back() == '/') root_link.remove_suffix(1);
  if (root_link.empty() || root_link == "/" || root_link[0] != '/') return std::string(maps_path);
  if (maps_path.size() > root_link.size() && maps_path.starts_with(root_link) &&
      maps_path[root_link.size()] == '/') {
    return std::string(maps_path.substr(root_link.size()));
  }
  // Outside the chroot (a file opened before chroot(2), or through a descriptor passed in): it
  // has no name under the target's root.
  return std::string(maps_path);
}

bool StripDeletedSuffix(std::string* path) {
  if (path->size() <= kDeletedSuffix.size() || !path->ends_with(kDeletedSuffix)) return false;
  path->resize(path->size() - kDeletedSuffix.size());
  return true;
}

std::string TargetRootLink(pid_t pid) {
  char buffer[4096];
  const std::string link = StrCat("/proc/", pid, "/root");
  ssize_t n = ::readlink(link.c_str(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return "/";
  return std::string(buffer, static_cast<size_t>(n));
}

std::optional<MappedFile> LocateMappedFile(pid_t pid, const MapEntry& entry,
                                           std::string_view root_link) {
  if (entry.path.empty() || entry.path[0] != '/') return std::nullopt;
  std::string maps_path = entry.path;
  const bool deleted = StripDeletedSuffix(&maps_path);
  const std::string proc = StrCat("/proc/", pid);
  const std::string path_in_root = PathInTargetRoot(maps_path, root_link);
  const std::string map_files = StrCat(proc, "/map_files/", std::hex, entry.start, "-", entry.end);

  std::vector<std::string> candidates;
  if (deleted) {
    // The name now leads to nothing or to the file's replacement: the mapping itself first.
    candidates = {map_files, proc + "/root" + path_in_root};
  } else {
    candidates = {proc + "/root" + path_in_root, map_files, maps_path};
  }
  std::optional<MappedFile> same_inode;
  for (const std::string& candidate : candidates) {
    std::optional<FileMatch> match = StatMatch(candidate, entry);
    if (!match || *match == FileMatch::kOther) continue;
    MappedFile found{candidate, path_in_root, *match};
    if (*match == FileMatch::kSame) return found;
    if (!same_inode) same_inode = std::move(found);
  }
  return same_inode;
}

}  // namespace pprofd::symbolizer
