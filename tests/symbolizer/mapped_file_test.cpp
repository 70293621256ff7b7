#include "symbolizer/mapped_file.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <string>

#include "base/file_util.h"
#include "base/log.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/proc_maps.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

using testing::CopyFile;
using testing::FixturePath;
using testing::TempDir;

MapEntry EntryWith(uint32_t major_number, uint32_t minor_number, uint64_t inode) {
  MapEntry entry;
  entry.dev_major = major_number;
  entry.dev_minor = minor_number;
  entry.inode = inode;
  entry.path = "/usr/lib/libc.so.6";
  return entry;
}

TEST_CASE("MatchMappedFile compares device and inode with the maps entry", "[mapped_file]") {
  const MapEntry entry = EntryWith(0xfe, 0x01, 1234);
  CHECK(MatchMappedFile(entry, makedev(0xfe, 0x01), 1234) == FileMatch::kSame);
  // overlayfs: the stat device is the overlay's while maps may show the real file's.
  CHECK(MatchMappedFile(entry, makedev(0, 0x2a), 1234) == FileMatch::kSameInode);
  CHECK(MatchMappedFile(entry, makedev(0xfe, 0x01), 1235) == FileMatch::kOther);
  CHECK(MatchMappedFile(entry, makedev(0, 0x2a), 99) == FileMatch::kOther);
  // Minor numbers above 255 use the high bits of the C library's encoding.
  const MapEntry wide = EntryWith(259, 70000, 7);
  CHECK(MatchMappedFile(wide, makedev(259, 70000), 7) == FileMatch::kSame);
  CHECK(MatchMappedFile(wide, makedev(259, 70001), 7) == FileMatch::kSameInode);
  // An entry without an inode (anonymous) matches nothing.
  CHECK(MatchMappedFile(EntryWith(0, 0, 0), makedev(0, 0), 0) == FileMatch::kOther);
}

TEST_CASE("PathInTargetRoot strips a chroot's directory from the maps path", "[mapped_file]") {
  CHECK(PathInTargetRoot("/usr/lib/libc.so.6", "/") == "/usr/lib/libc.so.6");
  CHECK(PathInTargetRoot("/srv/jail/usr/lib/libc.so.6", "/srv/jail") == "/usr/lib/libc.so.6");
  CHECK(PathInTargetRoot("/srv/jail/usr/lib/libc.so.6", "/srv/jail/") == "/usr/lib/libc.so.6");
  // A sibling directory that merely shares the prefix is outside the root.
  CHECK(PathInTargetRoot("/srv/jailbreak/x.so", "/srv/jail") == "/srv/jailbreak/x.so");
  // A file mapped from outside the chroot (opened before chroot(2)) keeps its name.
  CHECK(PathInTargetRoot("/opt/x.so", "/srv/jail") == "/opt/x.so");
  CHECK(PathInTargetRoot("/srv/jail", "/srv/jail") == "/srv/jail");
  // An unreadable root link is "/".
  CHECK(PathInTargetRoot("/a/b", "") == "/a/b");
}

TEST_CASE("StripDeletedSuffix removes the kernel's marker only at the end", "[mapped_file]") {
  std::string path = "/usr/lib/libc.so.6 (deleted)";
  CHECK(StripDeletedSuffix(&path));
  CHECK(path == "/usr/lib/libc.so.6");
  CHECK_FALSE(StripDeletedSuffix(&path));
  std::string only = " (deleted)";
  CHECK_FALSE(StripDeletedSuffix(&only));
}

// This process's mappings of the file whose path ends with `suffix`.
std::vector<MapEntry> MappingsOf(pid_t pid, const std::string& suffix) {
  auto text = ReadFileToString(StrCat("/proc/", pid, "/maps"));
  REQUIRE(text.ok());
  auto entries = ParseProcMaps(*text);
  REQUIRE(entries.ok());
  std::vector<MapEntry> found;
  for (const MapEntry& entry : *entries) {
    if (entry.path.size() >= suffix.size() &&
        entry.path.compare(entry.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      found.push_back(entry);
    }
  }
  return found;
}

TEST_CASE("LocateMappedFile finds this process's own libc under its root", "[mapped_file]") {
  std::vector<MapEntry> libc = MappingsOf(::getpid(), "/libc.so.6");
  REQUIRE_FALSE(libc.empty());
  auto found = LocateMappedFile(::getpid(), libc.front(), TargetRootLink(::getpid()));
  REQUIRE(found);
  CHECK(found->match == FileMatch::kSame);
  CHECK(found->open_path == StrCat("/proc/", ::getpid(), "/root", libc.front().path));
  CHECK(found->path_in_root == libc.front().path);
}

TEST_CASE("ElfCache opens a file reached through several map_files paths once",
          "[mapped_file][elf_cache]") {
  // Every mapping of libc has its own /proc/PID/map_files name; the cache is keyed by the file's
  // identity, so they share one ElfFile and one cache entry.
  std::vector<MapEntry> libc = MappingsOf(::getpid(), "/libc.so.6");
  REQUIRE(libc.size() >= 2);
  ElfCache cache;
  std::shared_ptr<ElfFile> first;
  for (const MapEntry& entry : libc) {
    auto opened = cache.Get(StrCat("/proc/self/map_files/", std::hex, entry.start, "-", entry.end),
                            "/proc/self/root");
    REQUIRE(opened.ok());
    if (!first) first = *opened;
    CHECK(opened->get() == first.get());
  }
  CHECK(cache.size() == 1);
}

// A child that runs `setup`, maps `file_in_child` executable, runs `after_map`, then waits until
// destruction. The parent inspects it meanwhile.
class MappingChild {
 public:
  MappingChild(const std::string& file_in_child, const std::function<bool()>& setup,
               const std::function<bool()>& after_map = nullptr) {
    int ready[2], release[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(release) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(release[1]);
      if (!setup()) ::_exit(2);
      int fd = ::open(file_in_child.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) ::_exit(3);
      void* mapped = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
      if (mapped == MAP_FAILED) ::_exit(4);
      ::close(fd);
      if (!after_map || after_map()) {
        char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) ::_exit(5);
        if (::read(release[0], &byte, 1) < 0) ::_exit(6);
        ::_exit(0);
      }
      ::_exit(7);
    }
    ::close(ready[1]);
    ::close(release[0]);
    release_fd_ = release[1];
    char byte = 0;
    ready_ = ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
  }
  ~MappingChild() {
    ::close(release_fd_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
  bool ready_ = false;
};

TEST_CASE("LocateMappedFile reaches a chrooted target's file, which maps name from our root",
          "[mapped_file]") {
  TempDir jail;
  CopyFile(FixturePath("sym_fixture_pie_g"), jail.path() / "lib" / "module.so");
  const std::string jail_dir = jail.path().string();
  MappingChild child("/lib/module.so", [&] { return ::chroot(jail_dir.c_str()) == 0; });
  REQUIRE(child.ready());

  std::vector<MapEntry> entries = MappingsOf(child.pid(), "/module.so");
  REQUIRE(entries.size() == 1);
  // The kernel names the file from the reader's root: the jail's directory is in the path, and
  // /proc/PID/root + that path leads nowhere.
  CHECK(entries[0].path == jail_dir + "/lib/module.so");
  CHECK(TargetRootLink(child.pid()) == jail_dir);
  auto found = LocateMappedFile(child.pid(), entries[0], TargetRootLink(child.pid()));
  REQUIRE(found);
  CHECK(found->match == FileMatch::kSame);
  CHECK(found->path_in_root == "/lib/module.so");
  CHECK(found->open_path == StrCat("/proc/", child.pid(), "/root/lib/module.so"));
}

TEST_CASE("LocateMappedFile refuses a file mounted over the mapped one in the target's namespace",
          "[mapped_file]") {
  // In its own mount namespace the child maps module.so, then mounts another file over that
  // path: /proc/PID/root + path now opens the wrong file, which the identity check must catch;
  // /proc/PID/map_files (we run as root) still opens the mapped one.
  TempDir dir;
  CopyFile(FixturePath("sym_fixture_pie_g"), dir.path() / "module.so");
  CopyFile(FixturePath("sym_fixture_nopie_g"), dir.path() / "impostor.so");
  const std::string module = (dir.path() / "module.so").string();
  const std::string impostor = (dir.path() / "impostor.so").string();
  MappingChild child(
      module,
      [] {
        return ::unshare(CLONE_NEWNS) == 0 &&
               ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
      },
      [&] { return ::mount(impostor.c_str(), module.c_str(), nullptr, MS_BIND, nullptr) == 0; });
  REQUIRE(child.ready());

  std::vector<MapEntry> entries = MappingsOf(child.pid(), "/module.so");
  REQUIRE(entries.size() == 1);
  struct stat impostor_stat;
  REQUIRE(::stat(StrCat("/proc/", child.pid(), "/root", module).c_str(), &impostor_stat) == 0);
  CHECK(MatchMappedFile(entries[0], impostor_stat.st_dev, impostor_stat.st_ino) ==
        FileMatch::kOther);

  auto found = LocateMappedFile(child.pid(), entries[0], TargetRootLink(child.pid()));
  REQUIRE(found);
  CHECK(found->match == FileMatch::kSame);
  CHECK(found->open_path == StrCat("/proc/", child.pid(), "/map_files/", std::hex, entries[0].start,
                                   "-", entries[0].end));
  CHECK(found->path_in_root == module);
}

}  // namespace
}  // namespace pprofd::symbolizer
