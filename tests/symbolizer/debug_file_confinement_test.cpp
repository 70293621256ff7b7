// The debug-file lookup against a target that writes hostile names: .gnu_debuglink names with
// "..", absolute paths, FIFOs, devices, symlinks out of the target's root, huge sparse files, and
// .gnu_debugaltlink paths of the same kind. Each lookup must return at once, never open a file
// outside the root (a valid debug file is planted there as a decoy, and inotify watches it), and
// the legitimate links must still work. The binaries are made here with objcopy from the
// symbolizer fixture; every case runs with resolution by openat2 and by the component walk, for
// an object with a build-id (matched by build-id) and one without (matched by CRC).
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>

#include "base/open_in_root.h"
#include "symbolizer/debug_file.h"
#include "symbolizer/elf_file.h"
#include "symbolizer/elf_util.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::CheckFullSymbolization;
using testing::CopyFile;
using testing::FixturePath;
using testing::TempDir;

const std::string kUnstripped = FixturePath("sym_fixture_pie_g");
const std::string kDebugLinked = FixturePath("debuglink/sym_fixture_pie_g.dbglink");
const std::string kDebug = FixturePath("debuglink/sym_fixture_pie_g.debug");

// What "at once" means here: the lookups take milliseconds; a hostile case that is not caught
// takes a minute (a huge file's CRC) or forever (a FIFO, /dev/zero).
constexpr milliseconds kPrompt(2000);
// A lookup that has not returned after this is stuck: end the test binary with a message rather
// than hang ctest until its timeout.
constexpr std::chrono::seconds kStuck(20);

bool RunningAsRootOrWarn() {
  if (::geteuid() == 0) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") FAIL("this test needs root (mknod, map_files)");
  WARN("not root: skipped (mknod, /proc/PID/map_files and /usr/lib/debug need root)");
  return false;
}

// Ends the process if not disarmed within kStuck.
class Watchdog {
 public:
  explicit Watchdog(std::string what) : what_(std::move(what)), thread_([this] { Watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_for(lock, kStuck, [this] { return done_; })) {
      std::fprintf(stderr, "STUCK: %s did not return within %llds\n", what_.c_str(),
                   static_cast<long long>(kStuck.count()));
      std::_Exit(3);
    }
  }
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Reports whether any file in a directory was opened or read (read(2): a mapping's page faults
// do not count).
class OpenWatch {
 public:
  explicit OpenWatch(const fs::path& dir, uint32_t mask = IN_OPEN | IN_ACCESS)
      : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::inotify_add_watch(fd_, dir.c_str(), mask) >= 0);
  }
  ~OpenWatch() { ::close(fd_); }
  // The names opened or read since the watch began ("" for the directory itself).
  std::vector<std::string> Events() {
    std::vector<std::string> names;
    alignas(inotify_event) char buffer[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      for (char* p = buffer; p < buffer + n;) {
        auto* event = reinterpret_cast<inotify_event*>(p);
        // Listing the directory (IN_OPEN on the directory itself, len 0) is not reading a file.
        if (event->len > 0) names.emplace_back(event->name);
        p += sizeof(inotify_event) + event->len;
      }
    }
    return names;
  }

 private:
  int fd_;
};

void Run(const std::string& command) {
  INFO(command);
  REQUIRE(std::system((command + " 2>&1").c_str()) == 0);
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

uint32_t Crc32Of(const fs::path& path) {
  const std::string bytes = ReadBytes(path);
  return DebugLinkCrc32(0, bytes.data(), bytes.size());
}

// Copy of `from` whose NT_GNU_BUILD_ID note is turned into a note of another type: the object
// then has no build-id, with its layout unchanged.
void WithoutBuildId(const fs::path& from, const fs::path& to, const fs::path& scratch) {
  const fs::path note = scratch / "note.bin";
  Run("objcopy --dump-section .note.gnu.build-id=" + note.string() + " " + from.string() + " " +
      (scratch / "dump.out").string());
  std::string bytes = ReadBytes(note);
  REQUIRE(bytes.size() >= 16);
  const uint32_t other_type = 0x4711;
  std::memcpy(bytes.data() + 8, &other_type, 4);
  WriteBytes(note, bytes);
  fs::create_directories(to.parent_path());
  Run("objcopy --update-section .note.gnu.build-id=" + note.string() + " " + from.string() + " " +
      to.string());
}

// Copy of `from` with a build-id of the same length but random bytes; returns it in hex.
std::string WithRandomBuildId(const fs::path& from, const fs::path& to, const fs::path& scratch,
                              uint64_t seed) {
  const fs::path note = scratch / "note.bin";
  Run("objcopy --dump-section .note.gnu.build-id=" + note.string() + " " + from.string() + " " +
      (scratch / "dump.out").string());
  std::string bytes = ReadBytes(note);
  REQUIRE(bytes.size() >= 16);
  uint32_t name_size = 0;
  uint32_t desc_size = 0;
  std::memcpy(&name_size, bytes.data(), 4);
  std::memcpy(&desc_size, bytes.data() + 4, 4);
  const size_t desc = 12 + ((name_size + 3) & ~3u);
  REQUIRE(desc + desc_size <= bytes.size());
  std::mt19937_64 random(seed);
  for (uint32_t i = 0; i < desc_size; ++i) bytes[desc + i] = static_cast<char>(random());
  WriteBytes(note, bytes);
  fs::create_directories(to.parent_path());
  Run("objcopy --update-section .note.gnu.build-id=" + note.string() + " " + from.string() + " " +
      to.string());
  return HexEncode(reinterpret_cast<const uint8_t*>(bytes.data() + desc), desc_size);
}

// Copy of `from` whose .gnu_debuglink holds `name` and `crc`, whatever the name.
void WithDebugLink(const fs::path& from, const fs::path& to, const std::string& name, uint32_t crc,
                   const fs::path& scratch) {
  std::string section = name;
  section.push_back('\0');
  while (section.size() % 4 != 0) section.push_back('\0');
  section.append(reinterpret_cast<const char*>(&crc), 4);
  const fs::path file = scratch / "debuglink.bin";
  WriteBytes(file, section);
  fs::create_directories(to.parent_path());
  Run("objcopy --update-section .gnu_debuglink=" + file.string() + " " + from.string() + " " +
      to.string());
}

// A target's tree: the root a container would have, and a directory beside it that the target
// must not be able to make the agent read.
//   <top>/root/opt/app/bin/app         the object, with the .gnu_debuglink under test
//   <top>/outside/app.debug            a valid debug file of the object (the decoy)
//   <top>/work/                        scratch
struct Scene {
  explicit Scene(bool with_build_id) : with_build_id(with_build_id) {
    fs::create_directories(root());
    fs::create_directories(outside());
    fs::create_directories(work());
    if (with_build_id) {
      binary = kDebugLinked;
      debug = kDebug;
    } else {
      binary = work() / "app.nobuildid";
      debug = work() / "app.debug.nobuildid";
      WithoutBuildId(kDebugLinked, binary, work());
      WithoutBuildId(kDebug, debug, work());
    }
    crc = Crc32Of(debug);
    CopyFile(debug, outside() / "app.debug");
  }

  fs::path root() const { return top.path() / "root"; }
  fs::path outside() const { return top.path() / "outside"; }
  fs::path work() const { return top.path() / "work"; }
  fs::path bin_dir() const { return root() / "opt/app/bin"; }
  fs::path app() const { return bin_dir() / "app"; }

  // Writes <bin_dir>/app with a .gnu_debuglink naming `name` (and the decoy's CRC).
  void LinkTo(const std::string& name) const { WithDebugLink(binary, app(), name, crc, work()); }

  // Opens the object as the agent would for a target whose root is `root()`, timed, with a
  // watchdog; returns whether a debug file was found (line info comes only from it).
  bool FindsDebugFile(const std::string& what, milliseconds* took = nullptr) const {
    return FindsDebugFileAt(app().string(), root().string(), what, took);
  }

  static bool FindsDebugFileAt(const std::string& path, const std::string& root,
                               const std::string& what, milliseconds* took = nullptr) {
    Watchdog watchdog(what);
    const auto start = steady_clock::now();
    auto file = ElfFile::Open(path, root);
    const auto elapsed = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    INFO(what << ": " << path << " under \"" << root << "\": " << file.status().message());
    REQUIRE(file.ok());
    CHECK(elapsed < kPrompt);
    if (took != nullptr) *took = elapsed;
    return (*file)->has_line_info();
  }

  TempDir top;
  bool with_build_id;
  fs::path binary;  // stripped, with a .gnu_debuglink to rewrite
  fs::path debug;   // its debug file
  uint32_t crc = 0;
};

// The two ways of resolving, for the whole test case.
struct ResolveModeScope {
  explicit ResolveModeScope(ResolveMode mode) { SetAutoResolveModeForTesting(mode); }
  ~ResolveModeScope() { SetAutoResolveModeForTesting(ResolveMode::kAuto); }
};

ResolveMode AnyMode() {
  ResolveMode mode = GENERATE(ResolveMode::kOpenat2, ResolveMode::kWalk);
  if (mode == ResolveMode::kOpenat2 && !KernelHasOpenat2()) {
    WARN("this kernel has no openat2 (Linux 5.6+): the walk is tested in its place");
    mode = ResolveMode::kWalk;
  }
  return mode;
}

const char* Name(ResolveMode mode) { return mode == ResolveMode::kWalk ? "walk" : "openat2"; }

TEST_CASE("Legitimate debug links still work under a root", "[debug_file][confinement]") {
  const ResolveMode mode = AnyMode();
  const bool with_build_id = GENERATE(true, false);
  INFO(Name(mode) << (with_build_id ? ", with build-id" : ", without build-id"));
  ResolveModeScope scope(mode);
  Scene scene(with_build_id);
  scene.LinkTo("app.debug");

  SECTION("beside the object") {
    CopyFile(scene.debug, scene.bin_dir() / "app.debug");
    CHECK(scene.FindsDebugFile("beside"));
    auto file = testing::OpenOrFail(scene.app().string(), scene.root().string());
    CheckFullSymbolization(*file, kUnstripped);
  }
  SECTION("in .debug/") {
    CopyFile(scene.debug, scene.bin_dir() / ".debug/app.debug");
    CHECK(scene.FindsDebugFile(".debug/"));
  }
  SECTION("under <root>/usr/lib/debug/<dir>") {
    CopyFile(scene.debug, scene.root() / "usr/lib/debug/opt/app/bin/app.debug");
    CHECK(scene.FindsDebugFile("usr/lib/debug"));
  }
  SECTION("through a symlink that stays in the root (absolute, as the target reads it)") {
    CopyFile(scene.debug, scene.root() / "srv/debug/real.debug");
    fs::create_symlink("/srv/debug/real.debug", scene.bin_dir() / "app.debug");
    CHECK(scene.FindsDebugFile("symlink in root"));
  }
  SECTION("the decoy outside would be found if the link could reach it") {
    // Control for the hostile cases: the decoy is a valid debug file of this object.
    CopyFile(scene.outside() / "app.debug", scene.bin_dir() / "app.debug");
    CHECK(scene.FindsDebugFile("decoy copied in"));
  }
}

TEST_CASE("A debug link cannot lead out of the target's root", "[debug_file][confinement]") {
  const ResolveMode mode = AnyMode();
  const bool with_build_id = GENERATE(true, false);
  INFO(Name(mode) << (with_build_id ? ", with build-id" : ", without build-id"));
  ResolveModeScope scope(mode);
  Scene scene(with_build_id);
  OpenWatch watch(scene.outside());

  SECTION("a name with '..' up to the decoy") {
    scene.LinkTo("../../../../outside/app.debug");
    CHECK_FALSE(scene.FindsDebugFile("dotdot name"));
  }
  SECTION("an absolute name: the decoy's host path") {
    scene.LinkTo((scene.outside() / "app.debug").string());
    CHECK_FALSE(scene.FindsDebugFile("absolute name"));
  }
  SECTION("../../etc/shadow") {
    scene.LinkTo("../../etc/shadow");
    CHECK_FALSE(scene.FindsDebugFile("etc/shadow"));
  }
  SECTION("a symlink climbing out of the root") {
    scene.LinkTo("app.debug");
    fs::create_symlink("../../../../outside/app.debug", scene.bin_dir() / "app.debug");
    CHECK_FALSE(scene.FindsDebugFile("climbing symlink"));
  }
  SECTION("a symlink to the decoy's host path") {
    scene.LinkTo("app.debug");
    fs::create_symlink(scene.outside() / "app.debug", scene.bin_dir() / "app.debug");
    CHECK_FALSE(scene.FindsDebugFile("host-path symlink"));
  }
  SECTION("a .debug/ directory that is a symlink out") {
    scene.LinkTo("app.debug");
    fs::create_symlink("../../../../outside", scene.bin_dir() / ".debug");
    CHECK_FALSE(scene.FindsDebugFile(".debug symlink"));
  }
  SECTION("a symlink through /proc/self/root (a magic link)") {
    scene.LinkTo("app.debug");
    fs::create_symlink("/proc/self/root" + (scene.outside() / "app.debug").string(),
                       scene.bin_dir() / "app.debug");
    CHECK_FALSE(scene.FindsDebugFile("magic link"));
  }
  CHECK(watch.Events().empty());
}

// rchar of /proc/self/io: bytes this process read with read(2) and pread(2), whatever the file.
uint64_t BytesReadByThisProcess() {
  std::ifstream io("/proc/self/io");
  for (std::string line; std::getline(io, line);) {
    if (line.rfind("rchar: ", 0) == 0) return std::stoull(line.substr(7));
  }
  FAIL("no rchar in /proc/self/io");
  return 0;
}

TEST_CASE("FIFOs and devices and directories and huge files are refused at once",
          "[debug_file][confinement]") {
  const ResolveMode mode = AnyMode();
  const bool with_build_id = GENERATE(true, false);
  INFO(Name(mode) << (with_build_id ? ", with build-id" : ", without build-id"));
  if (!RunningAsRootOrWarn()) return;
  ResolveModeScope scope(mode);
  Scene scene(with_build_id);
  scene.LinkTo("app.debug");
  const fs::path candidate = scene.bin_dir() / "app.debug";

  SECTION("a FIFO named as the link") {
    REQUIRE(::mkfifo(candidate.c_str(), 0644) == 0);
    CHECK_FALSE(scene.FindsDebugFile("fifo"));
  }
  SECTION("a symlink to a FIFO in .debug/") {
    fs::create_directories(scene.bin_dir() / ".debug");
    REQUIRE(::mkfifo((scene.root() / "fifo").c_str(), 0644) == 0);
    fs::create_symlink("/fifo", scene.bin_dir() / ".debug/app.debug");
    CHECK_FALSE(scene.FindsDebugFile("fifo in .debug"));
  }
  SECTION("the root's /dev/zero, through a symlink") {
    fs::create_directories(scene.root() / "dev");
    REQUIRE(::mknod((scene.root() / "dev/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0);
    fs::create_symlink("../../../../../../../../dev/zero", candidate);
    CHECK_FALSE(scene.FindsDebugFile("dev/zero"));
  }
  SECTION("a directory") {
    fs::create_directories(candidate);
    CHECK_FALSE(scene.FindsDebugFile("directory"));
  }
  SECTION("a 3 GiB sparse file") {
    Run("truncate -s 3G " + candidate.string());
    milliseconds took{};
    CHECK_FALSE(scene.FindsDebugFile("sparse 3G", &took));
    WARN("3 GiB sparse file: " << took.count() << " ms");
  }
  SECTION("the debug file padded past the CRC bound") {
    // A valid ELF header, so only the size can refuse it before its CRC is read.
    CopyFile(scene.debug, candidate);
    Run("truncate -s " + std::to_string(kMaxDebugLinkCrcBytes + 1) + " " + candidate.string());
    // With a build-id it is matched without reading it whole; without one, refused before its
    // CRC is read. The ELF headers and notes are read (pread: files are read, not mapped, so a
    // target truncating them cannot raise SIGBUS), a few KiB; the CRC would read a GiB.
    const uint64_t read_before = BytesReadByThisProcess();
    CHECK(scene.FindsDebugFile("padded past the bound") == scene.with_build_id);
    CHECK(BytesReadByThisProcess() - read_before < (uint64_t{1} << 20));
  }
}

TEST_CASE("The agent's own root: FIFOs and /dev/zero are refused at once",
          "[debug_file][confinement]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  ResolveModeScope scope(mode);
  // A target in the agent's own mount namespace, under root "" and under /proc/PID/root.
  TempDir dir;
  const fs::path app = dir.path() / "app";
  WithDebugLink(kDebugLinked, app, "app.debug", 0, dir.path());
  const std::string proc_root = "/proc/" + std::to_string(::getpid()) + "/root";
  for (const std::string& root : {std::string(), proc_root}) {
    const std::string path = root + app.string();
    fs::remove(dir.path() / "app.debug");
    fs::create_symlink("/dev/zero", dir.path() / "app.debug");
    CHECK_FALSE(Scene::FindsDebugFileAt(path, root, "host /dev/zero"));
    fs::remove(dir.path() / "app.debug");
    REQUIRE(::mkfifo((dir.path() / "app.debug").c_str(), 0644) == 0);
    CHECK_FALSE(Scene::FindsDebugFileAt(path, root, "host fifo"));
    // And the real one still works from there.
    fs::remove(dir.path() / "app.debug");
    CopyFile(kDebug, dir.path() / "app.debug");
    CHECK(Scene::FindsDebugFileAt(path, root, "host, legitimate"));
  }
}

TEST_CASE("An object without a build-id is matched by a CRC over the whole file",
          "[debug_file][confinement]") {
  Scene scene(/*with_build_id=*/false);
  CopyFile(scene.debug, scene.bin_dir() / "app.debug");
  SECTION("right CRC") {
    scene.LinkTo("app.debug");
    OpenWatch reads(scene.bin_dir(), IN_ACCESS);
    CHECK(scene.FindsDebugFile("crc"));
    // The CRC reads the file (which the "padded past the bound" case relies on to tell).
    const std::vector<std::string> read = reads.Events();
    CHECK(std::find(read.begin(), read.end(), "app.debug") != read.end());
  }
  SECTION("wrong CRC") {
    WithDebugLink(scene.binary, scene.app(), "app.debug", scene.crc ^ 1, scene.work());
    CHECK_FALSE(scene.FindsDebugFile("bad crc"));
  }
}

// The host's /usr/lib/debug/.build-id serves the agent's own targets and, when the target's root
// has none, a container's: a debug file installed there for a build-id no other file has.
TEST_CASE("The host's /usr/lib/debug by build-id serves host and container targets",
          "[debug_file][confinement]") {
  if (!RunningAsRootOrWarn()) return;
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  ResolveModeScope scope(mode);
  TempDir dir;
  const fs::path app = dir.path() / "root/opt/app/bin/app";
  const std::string id = WithRandomBuildId(
      kDebugLinked, app, dir.path(), std::random_device{}() ^ static_cast<uint64_t>(::getpid()));
  const fs::path host_debug =
      fs::path("/usr/lib/debug/.build-id") / id.substr(0, 2) / (id.substr(2) + ".debug");
  REQUIRE_FALSE(fs::exists(host_debug));
  // The debug file gets the same note (WithRandomBuildId left it in note.bin).
  fs::create_directories(host_debug.parent_path());
  Run("objcopy --update-section .note.gnu.build-id=" + (dir.path() / "note.bin").string() + " " +
      kDebug + " " + host_debug.string());
  struct Remove {
    fs::path path;
    ~Remove() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } remove{host_debug};
  // No .gnu_debuglink candidate exists: only the build-id path can find it.
  const std::string proc_root = "/proc/" + std::to_string(::getpid()) + "/root";
  CHECK(Scene::FindsDebugFileAt(app.string(), "", "host, root \"\""));
  CHECK(Scene::FindsDebugFileAt(proc_root + app.string(), proc_root, "host, /proc/PID/root"));
  // A container's root without debug files: the host's serve it (same build-id).
  CHECK(Scene::FindsDebugFileAt(app.string(), (dir.path() / "root").string(), "container"));
}

// The object opened through /proc/PID/map_files/START-END (a file replaced or removed since it
// was mapped): its directory is taken from the link's text, under the target's root.
TEST_CASE("Debug link of an object opened through /proc/PID/map_files",
          "[debug_file][confinement]") {
  if (!RunningAsRootOrWarn()) return;
  Scene scene(/*with_build_id=*/true);
  scene.LinkTo("app.debug");
  CopyFile(scene.debug, scene.bin_dir() / "app.debug");
  const int fd = ::open(scene.app().c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const size_t size = fs::file_size(scene.app());
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  REQUIRE(mapped != MAP_FAILED);
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  char range[64];
  std::snprintf(range, sizeof(range), "%lx-%lx", static_cast<unsigned long>(start),
                static_cast<unsigned long>(start + ((size + 4095) & ~size_t{4095})));
  const std::string proc = "/proc/" + std::to_string(::getpid());
  CHECK(Scene::FindsDebugFileAt(proc + "/map_files/" + range, proc + "/root", "map_files"));
  ::munmap(mapped, size);
}

// .gnu_debugaltlink (dwz's common file): an absolute path, resolved under the root.
TEST_CASE("A debugaltlink path is resolved inside the root", "[debug_file][confinement]") {
  const ResolveMode mode = AnyMode();
  INFO(Name(mode));
  ResolveModeScope scope(mode);
  TempDir top;
  const fs::path root = top.path() / "root";
  const fs::path outside = top.path() / "outside";
  fs::create_directories(root);
  fs::create_directories(outside);
  // The "alt file" is any ELF object with a build-id: kDebug.
  auto alt_elf = OpenElf(kDebug);
  REQUIRE(alt_elf.ok());
  const std::string alt_id = ReadBuildId(alt_elf->elf.get());
  REQUIRE(alt_id.size() == 40);
  std::string id_bytes;
  for (size_t i = 0; i < alt_id.size(); i += 2) {
    id_bytes.push_back(static_cast<char>(std::stoi(alt_id.substr(i, 2), nullptr, 16)));
  }
  // A debug file naming `alt_path`, and the lookup from it.
  auto find_alt = [&](const std::string& alt_path) {
    std::string section = alt_path;
    section.push_back('\0');
    section += id_bytes;
    WriteBytes(top.path() / "altlink.bin", section);
    const fs::path with_alt = top.path() / "with_alt.debug";
    fs::remove(with_alt);
    Run("objcopy --add-section .gnu_debugaltlink=" + (top.path() / "altlink.bin").string() + " " +
        FixturePath("sym_fixture_nopie_g") + " " + with_alt.string());
    auto opened = OpenElf(with_alt.string());
    REQUIRE(opened.ok());
    Watchdog watchdog("altlink " + alt_path);
    const auto start = steady_clock::now();
    bool found = FindAltDebugFile(root.string(), opened->elf.get()).has_value();
    CHECK(steady_clock::now() - start < kPrompt);
    return found;
  };
  CopyFile(kDebug, root / "usr/lib/debug/.dwz/common.debug");
  CHECK(find_alt("/usr/lib/debug/.dwz/common.debug"));

  CopyFile(kDebug, outside / "common.debug");
  OpenWatch watch(outside);
  CHECK_FALSE(find_alt("/../outside/common.debug"));
  CHECK_FALSE(find_alt("/../../../../../../../" + (outside / "common.debug").string()));
  fs::create_symlink("../../../../outside/common.debug", root / "usr/lib/debug/.dwz/link.debug");
  CHECK_FALSE(find_alt("/usr/lib/debug/.dwz/link.debug"));
  CHECK(watch.Events().empty());

  REQUIRE(::mkfifo((root / "usr/lib/debug/.dwz/fifo.debug").c_str(), 0644) == 0);
  CHECK_FALSE(find_alt("/usr/lib/debug/.dwz/fifo.debug"));
  CHECK_FALSE(find_alt("relative/common.debug"));
}

}  // namespace
}  // namespace pprofd::symbolizer
