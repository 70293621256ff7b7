// Opening a file whose path another party controls (a profiled process names its debug files),
// confined to a directory that stands for that party's "/" (its root as the agent sees it:
// /proc/PID/root). The path is resolved as the kernel would resolve it for a process chrooted
// there: ".." stops at the root, absolute symlinks restart at the root, and the /proc "magic"
// links that jump elsewhere (/proc/self/root, /proc/PID/fd/N) are refused. So no name or symlink
// the other party writes can make the agent open a file outside its tree, whatever privileges the
// agent has (CAP_DAC_READ_SEARCH reads every file it can reach).
//
// Resolution uses openat2(2) with RESOLVE_IN_ROOT (Linux 5.6). Where openat2 is missing (older
// kernels, or a seccomp profile that refuses it), the same rules are applied by a walk over the
// path one component at a time, each opened with O_PATH | O_NOFOLLOW relative to the directory
// before it, symlinks read and expanded by the walk itself and ".." taken from the walk's own
// stack of directories (never from the file system), so a rename in the tree during the walk
// cannot lead outside it either.
//
// The files are first opened with O_PATH, which opens nothing (no FIFO waits for a writer, no
// device driver runs), checked with fstat, and only a regular file is then opened for reading.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd {

// How ResolveInRoot resolves: kAuto is openat2 where the kernel has it, else the walk. The others
// force one way (tests run each case both ways).
enum class ResolveMode { kAuto, kOpenat2, kWalk };

// The directory `root` as an O_PATH descriptor; "" means the agent's own "/". "/proc/PID/root"
// gives the target's root directory, whichever mount namespace or chroot it is in.
StatusOr<ScopedFd> OpenRootDirectory(const std::string& root);

// Resolves `path` under `root_fd` as if `root_fd` were "/" (see above; a relative path is taken
// from the root too), following symlinks within it. Returns an O_PATH descriptor of the file.
StatusOr<ScopedFd> ResolveInRoot(int root_fd, std::string_view path,
                                 ResolveMode mode = ResolveMode::kAuto);

// A regular file opened for reading, with what fstat said of it.
struct RegularFile {
  ScopedFd fd;
  uint64_t size = 0;
  dev_t device = 0;
  ino_t inode = 0;
  int64_t mtime_ns = 0;
};

// Resolves `path` under `root_fd` and opens it for reading (O_RDONLY | O_NONBLOCK | O_NOCTTY |
// O_CLOEXEC) only if it is a regular file: a FIFO, socket, device or directory is refused before
// it is opened. The error names `path` and the reason.
StatusOr<RegularFile> OpenRegularFileInRoot(int root_fd, std::string_view path,
                                            ResolveMode mode = ResolveMode::kAuto);

// Opens `path` as the agent itself resolves it (symlinks followed, /proc magic links included:
// for the target's own mapped files under /proc/PID/root or /proc/PID/map_files, already found
// by the caller), with the same rule: O_PATH first, and only a regular file is opened for reading,
// non-blocking. A FIFO or device swapped in at the path is refused without being opened.
StatusOr<RegularFile> OpenRegularFile(const std::string& path);

// The second half of both: `located` is an O_PATH descriptor of `path`; opens that very inode for
// reading if it is a regular file.
StatusOr<RegularFile> ReopenIfRegular(ScopedFd located, std::string_view path);

// True when the running kernel resolves with openat2 (probed once).
bool KernelHasOpenat2();

// Makes kAuto mean `mode` from now on (kAuto restores the probe), for tests that run the callers
// of these functions both ways.
void SetAutoResolveModeForTesting(ResolveMode mode);

}  // namespace pprofd
