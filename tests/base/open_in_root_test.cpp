// ResolveInRoot and OpenRegularFileInRoot, each case both ways (openat2 and the component walk):
// ".." and symlinks stay inside the root, /proc's magic links are refused, and a FIFO, a device or
// a directory is refused without waiting.
#include "base/open_in_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace pprofd {
namespace {

namespace fs = std::filesystem;

// A tree with a file outside the root and a decoy of the same name inside it:
//   <top>/secret                 outside the root
//   <top>/root/secret            inside
//   <top>/root/etc/file
//   <top>/root/bin/
class Tree {
 public:
  Tree() {
    char pattern[] = "/tmp/pprofd_open_in_root_test.XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    top_ = pattern;
    fs::create_directories(root() / "etc");
    fs::create_directories(root() / "bin");
    Write(top_ / "secret", "outside");
    Write(root() / "secret", "inside");
    Write(root() / "etc/file", "etc file");
    auto fd = OpenRootDirectory(root().string());
    REQUIRE(fd.ok());
    root_fd_ = std::move(fd).value();
  }
  ~Tree() {
    std::error_code ignored;
    fs::remove_all(top_, ignored);
  }
  fs::path top() const { return top_; }
  fs::path root() const { return top_ / "root"; }
  int root_fd() const { return root_fd_.get(); }

  static void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

 private:
  fs::path top_;
  ScopedFd root_fd_;
};

ino_t InodeOf(const fs::path& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

ino_t InodeOf(int fd) {
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  return st.st_ino;
}

ResolveMode AnyMode() {
  ResolveMode mode = GENERATE(ResolveMode::kOpenat2, ResolveMode::kWalk);
  if (mode == ResolveMode::kOpenat2 && !KernelHasOpenat2()) {
    WARN("this kernel has no openat2 (Linux 5.6+): the walk is tested in its place");
    mode = ResolveMode::kWalk;
  }
  return mode;
}

const char* Name(ResolveMode mode) { return mode == ResolveMode::kWalk ? "walk" : "openat2"; }

TEST_CASE("ResolveInRoot: '..' stops at the root", "[open_in_root]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  Tree tree;
  for (const char* path : {"../secret", "/../secret", "bin/../../secret", "../../../../../secret",
                           "etc/../../../secret"}) {
    INFO(path);
    auto fd = ResolveInRoot(tree.root_fd(), path, mode);
    REQUIRE(fd.ok());
    CHECK(InodeOf(fd->get()) == InodeOf(tree.root() / "secret"));
  }
}

TEST_CASE("ResolveInRoot: symlinks are followed inside the root only", "[open_in_root]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  Tree tree;
  // Absolute: from the root, not from the agent's "/".
  fs::create_symlink("/etc/file", tree.root() / "bin/absolute");
  // Relative, climbing above the root: stops at it.
  fs::create_symlink("../../../../secret", tree.root() / "bin/climbing");
  // The outside file by its absolute path as the agent sees it: no such file inside the root.
  fs::create_symlink(tree.top() / "secret", tree.root() / "bin/host_path");
  // A chain: link -> link -> file.
  fs::create_symlink("absolute", tree.root() / "bin/chain");

  auto absolute = ResolveInRoot(tree.root_fd(), "bin/absolute", mode);
  REQUIRE(absolute.ok());
  CHECK(InodeOf(absolute->get()) == InodeOf(tree.root() / "etc/file"));

  auto climbing = ResolveInRoot(tree.root_fd(), "/bin/climbing", mode);
  REQUIRE(climbing.ok());
  CHECK(InodeOf(climbing->get()) == InodeOf(tree.root() / "secret"));

  CHECK_FALSE(ResolveInRoot(tree.root_fd(), "bin/host_path", mode).ok());

  auto chain = ResolveInRoot(tree.root_fd(), "bin/chain", mode);
  REQUIRE(chain.ok());
  CHECK(InodeOf(chain->get()) == InodeOf(tree.root() / "etc/file"));

  // A directory symlink in the middle of a path.
  fs::create_symlink("../etc", tree.root() / "bin/etc_dir");
  auto through = ResolveInRoot(tree.root_fd(), "bin/etc_dir/file", mode);
  REQUIRE(through.ok());
  CHECK(InodeOf(through->get()) == InodeOf(tree.root() / "etc/file"));
}

TEST_CASE("ResolveInRoot: symlink loops end", "[open_in_root]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  Tree tree;
  fs::create_symlink("b", tree.root() / "bin/a");
  fs::create_symlink("a", tree.root() / "bin/b");
  fs::create_symlink("self/x", tree.root() / "bin/self");
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(ResolveInRoot(tree.root_fd(), "bin/a", mode).ok());
  CHECK_FALSE(ResolveInRoot(tree.root_fd(), "bin/self", mode).ok());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("ResolveInRoot: /proc's magic links are refused", "[open_in_root]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  // Under the agent's own root, where /proc is mounted: /proc/self/root would lead anywhere.
  auto root = OpenRootDirectory("");
  REQUIRE(root.ok());
  CHECK(ResolveInRoot(root->get(), "/etc", mode).ok());
  CHECK_FALSE(ResolveInRoot(root->get(), "/proc/self/root/etc", mode).ok());
  CHECK_FALSE(ResolveInRoot(root->get(), "/proc/self/cwd", mode).ok());
}

TEST_CASE("OpenRegularFileInRoot opens regular files only, without waiting", "[open_in_root]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  Tree tree;
  REQUIRE(::mkfifo((tree.root() / "fifo").c_str(), 0600) == 0);
  // A real device inside the root (the null device's numbers), as a container's /dev has.
  REQUIRE(::mknod((tree.root() / "zero").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0);
  fs::create_symlink("/fifo", tree.root() / "bin/to_fifo");

  const auto start = std::chrono::steady_clock::now();
  auto fifo = OpenRegularFileInRoot(tree.root_fd(), "fifo", mode);
  REQUIRE_FALSE(fifo.ok());
  CHECK_THAT(fifo.status().message(), Catch::Contains("a FIFO"));
  CHECK_FALSE(OpenRegularFileInRoot(tree.root_fd(), "bin/to_fifo", mode).ok());
  auto device = OpenRegularFileInRoot(tree.root_fd(), "zero", mode);
  REQUIRE_FALSE(device.ok());
  CHECK_THAT(device.status().message(), Catch::Contains("a character device"));
  auto dir = OpenRegularFileInRoot(tree.root_fd(), "etc", mode);
  REQUIRE_FALSE(dir.ok());
  CHECK_THAT(dir.status().message(), Catch::Contains("a directory"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));

  auto file = OpenRegularFileInRoot(tree.root_fd(), "/etc/file", mode);
  REQUIRE(file.ok());
  CHECK(file->size == 8);
  CHECK(file->inode == InodeOf(tree.root() / "etc/file"));
  char buffer[16] = {};
  CHECK(::read(file->fd.get(), buffer, sizeof(buffer)) == 8);
  CHECK(std::string(buffer) == "etc file");
  const int flags = ::fcntl(file->fd.get(), F_GETFL);
  CHECK((flags & O_ACCMODE) == O_RDONLY);
  CHECK((flags & O_NONBLOCK) != 0);
  CHECK((::fcntl(file->fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("OpenRootDirectory follows /proc/PID/root", "[open_in_root]") {
  auto root = OpenRootDirectory("/proc/" + std::to_string(::getpid()) + "/root");
  REQUIRE(root.ok());
  CHECK(InodeOf(root->get()) == InodeOf(fs::path("/")));
  CHECK_FALSE(OpenRootDirectory("/nonexistent-pprofd-root").ok());
}

}  // namespace
}  // namespace pprofd
