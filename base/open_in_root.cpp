#include "base/open_in_root.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <string>
#include <vector>

#include "base/log.h"

namespace pprofd {
namespace {

// As many symlinks as the kernel follows in one lookup (MAXSYMLINKS) before ELOOP.
constexpr int kMaxSymlinks = 40;
// openat2 answers EAGAIN when a rename or mount elsewhere raced with a ".." in the lookup; a
// retry usually succeeds, but a tree renamed on purpose without pause must not keep us looping.
constexpr int kMaxOpenat2Attempts = 4;

std::atomic<ResolveMode> auto_mode_override{ResolveMode::kAuto};

long RawOpenat2(int dir_fd, const char* path, const open_how& how) {
  return ::syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
}

open_how PathOnlyInRoot() {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  // RESOLVE_IN_ROOT disables magic links today; say so explicitly in case that changes.
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return how;
}

StatusOr<ScopedFd> ResolveWithOpenat2(int root_fd, const std::string& path) {
  const open_how how = PathOnlyInRoot();
  int err = 0;
  for (int attempt = 0; attempt < kMaxOpenat2Attempts; ++attempt) {
    long fd = RawOpenat2(root_fd, path.c_str(), how);
    if (fd >= 0) return ScopedFd(static_cast<int>(fd));
    err = errno;
    if (err != EAGAIN && err != EINTR) break;
  }
  return ErrnoError("open " + path + " under the target's root", err);
}

std::vector<std::string> SplitReversed(std::string_view path) {
  std::vector<std::string> parts;
  size_t end = path.size();
  while (end > 0) {
    size_t slash = path.rfind('/', end - 1);
    size_t begin = slash == std::string_view::npos ? 0 : slash + 1;
    if (end > begin) parts.emplace_back(path.substr(begin, end - begin));
    if (slash == std::string_view::npos) break;
    end = slash;
  }
  return parts;  // the last element is the first component
}

// The walk described in the header. `dirs` holds the directories entered below the root; ".."
// pops it, so the file system's own ".." entries are never used.
StatusOr<ScopedFd> ResolveByWalk(int root_fd, const std::string& path) {
  std::vector<ScopedFd> dirs;
  auto current = [&] { return dirs.empty() ? root_fd : dirs.back().get(); };
  auto fail = [&](int err) { return ErrnoError("open " + path + " under the target's root", err); };
  std::vector<std::string> pending = SplitReversed(path);
  int symlinks = 0;
  while (!pending.empty()) {
    const std::string part = std::move(pending.back());
    pending.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      if (!dirs.empty()) dirs.pop_back();
      continue;
    }
    ScopedFd fd(::openat(current(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return fail(errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return fail(errno);
    if (S_ISLNK(st.st_mode)) {
      if (++symlinks > kMaxSymlinks) return fail(ELOOP);
      // /proc's links (/proc/self/root, /proc/PID/fd/N) name files outside the tree; refuse them
      // all, as openat2 refuses magic links.
      struct statfs fs;
      if (::fstatfs(fd.get(), &fs) != 0) return fail(errno);
      if (fs.f_type == PROC_SUPER_MAGIC) return fail(ELOOP);
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(fd.get(), "", target, sizeof(target));
      if (n < 0) return fail(errno);
      if (static_cast<size_t>(n) >= sizeof(target)) return fail(ENAMETOOLONG);
      std::string_view link(target, static_cast<size_t>(n));
      if (!link.empty() && link[0] == '/') dirs.clear();  // absolute: from the root again
      // Last-first, as `pending` is: the link's first component ends up next.
      for (std::string& p : SplitReversed(link)) pending.push_back(std::move(p));
      continue;
    }
    if (pending.empty()) return fd;
    if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR);
    dirs.push_back(std::move(fd));
  }
  // The path ended in ".", ".." or "/": the directory reached.
  int fd = ::fcntl(current(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return fail(errno);
  return ScopedFd(fd);
}

const char* FileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symlink";
  return "not a regular file";
}

}  // namespace

bool KernelHasOpenat2() {
  static const bool kHas = [] {
    ScopedFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    const open_how how = PathOnlyInRoot();
    long fd = root.valid() ? RawOpenat2(root.get(), ".", how) : -1;
    if (fd < 0) {
      LogInfo(StrCat("openat2 is not available (", ErrnoError("openat2", errno).message(),
                     "): paths under a target's root are resolved by a component walk instead"));
      return false;
    }
    ::close(static_cast<int>(fd));
    return true;
  }();
  return kHas;
}

void SetAutoResolveModeForTesting(ResolveMode mode) { auto_mode_override.store(mode); }

StatusOr<ScopedFd> OpenRootDirectory(const std::string& root) {
  const std::string dir = root.empty() ? "/" : root;
  ScopedFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open " + dir, errno);
  return fd;
}

StatusOr<ScopedFd> ResolveInRoot(int root_fd, std::string_view path, ResolveMode mode) {
  const std::string owned(path);
  if (owned.find('\0') != std::string::npos) {
    return Status::Error("path with a NUL byte refused");
  }
  if (mode == ResolveMode::kAuto) mode = auto_mode_override.load();
  if (mode == ResolveMode::kAuto) {
    mode = KernelHasOpenat2() ? ResolveMode::kOpenat2 : ResolveMode::kWalk;
  }
  return mode == ResolveMode::kOpenat2 ? ResolveWithOpenat2(root_fd, owned)
                                       : ResolveByWalk(root_fd, owned);
}

StatusOr<RegularFile> OpenRegularFileInRoot(int root_fd, std::string_view path, ResolveMode mode) {
  auto located = ResolveInRoot(root_fd, path, mode);
  if (!located.ok()) return located.status();
  return ReopenIfRegular(std::move(located).value(), path);
}

StatusOr<RegularFile> OpenRegularFile(const std::string& path) {
  // O_PATH follows the symlinks (the /proc/PID/root and map_files links among them) without
  // opening the file: a FIFO or device found there is not opened at all.
  ScopedFd located(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!located.valid()) return ErrnoError("open " + path, errno);
  return ReopenIfRegular(std::move(located), path);
}

StatusOr<RegularFile> ReopenIfRegular(ScopedFd located, std::string_view path) {
  struct stat st;
  if (::fstat(located.get(), &st) != 0) return ErrnoError(StrCat("stat ", path), errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(StrCat(path, ": ", FileTypeName(st.st_mode), ", not a regular file"));
  }
  // Reopen the very inode the O_PATH descriptor holds (the path may have changed since).
  const std::string self = StrCat("/proc/self/fd/", located.get());
  RegularFile file;
  file.fd.Reset(::open(self.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!file.fd.valid()) return ErrnoError(StrCat("open ", path), errno);
  struct stat opened;
  if (::fstat(file.fd.get(), &opened) != 0) return ErrnoError(StrCat("stat ", path), errno);
  if (!S_ISREG(opened.st_mode) || opened.st_dev != st.st_dev || opened.st_ino != st.st_ino) {
    return Status::Error(StrCat(path, ": changed while being opened"));
  }
  file.size = static_cast<uint64_t>(opened.st_size);
  file.device = opened.st_dev;
  file.inode = opened.st_ino;
  file.mtime_ns = static_cast<int64_t>(opened.st_mtim.tv_sec) * 1000000000 + opened.st_mtim.tv_nsec;
  return file;
}

}  // namespace pprofd
