// Perf map parsing (golden text from real JITs, malformed and huge lines, both number formats),
// the index's "latest entry wins" ranges, and the per-target reader on real files of this process.
#include "symbolizer/perf_map.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "symbolizer/perf_map_reader.h"

namespace pprofd::symbolizer {
namespace {

std::string NameAt(const PerfMapIndex& index, uint64_t address) {
  auto symbol = index.Find(address);
  return symbol ? std::string(symbol->name) : "<none>";
}

TEST_CASE("Parses the perf map lines real JITs write") {
  // One line of each: node --perf-basic-prof, Java perf-map-agent, .NET (upper case, padded),
  // LuaJIT, Python 3.12 -X perf, and a C++ JIT's mangled name; then the 0x form.
  const std::string text =
      "3f8a1e04a0c0 3c LazyCompile:~hot /tmp/app.js:3\n"
      "7f0f2d00e4a0 40 Ljava/lang/String;::hashCode\n"
      "00007F8A2C1B0000 000000000000004B [OptimizedTier1] Program::Main(string[])\n"
      "7f1a00001000 9a TRACE_3::/tmp/x.lua:12\n"
      "7f3a0c00 b py::work:/tmp/w.py\n"
      "401000 20 _ZN3jit4HashEPKcm\n"
      "0x7f0000002000 0x10 with_prefix\n"
      "0X7F0000003000 0X10 upper_prefix\n";
  PerfMapParse parse = ParsePerfMap(text);
  REQUIRE(parse.entries.size() == 8);
  CHECK(parse.consumed == text.size());
  CHECK(parse.malformed_lines == 0);
  CHECK(parse.entries[0].start == 0x3f8a1e04a0c0);
  CHECK(parse.entries[0].size == 0x3c);
  CHECK(parse.entries[0].name == "LazyCompile:~hot /tmp/app.js:3");
  CHECK(parse.entries[1].name == "Ljava/lang/String;::hashCode");
  CHECK(parse.entries[2].start == 0x7f8a2c1b0000);
  CHECK(parse.entries[2].size == 0x4b);
  CHECK(parse.entries[2].name == "[OptimizedTier1] Program::Main(string[])");
  CHECK(parse.entries[3].name == "TRACE_3::/tmp/x.lua:12");
  CHECK(parse.entries[4].start == 0x7f3a0c00);
  CHECK(parse.entries[4].size == 0xb);
  CHECK(parse.entries[5].name == "_ZN3jit4HashEPKcm");
  CHECK(parse.entries[6].start == 0x7f0000002000);
  CHECK(parse.entries[6].size == 0x10);
  CHECK(parse.entries[6].name == "with_prefix");
  CHECK(parse.entries[7].start == 0x7f0000003000);
  CHECK(parse.entries[7].name == "upper_prefix");
}

TEST_CASE("Skips malformed perf map lines and keeps the good ones") {
  const std::string text =
      "1000 10 good_one\n"
      "\n"
      "nothex 10 bad_start\n"
      "2000 zz bad_size\n"
      "3000 10\n"                             // no name
      "4000\n"                                // nothing but a start
      "5000 0 zero_size\n"                    // covers nothing
      "ffffffffffffffff 2 wraps_around\n"     // end past 2^64
      "10000000000000000 10 over_64_bits\n"   // start over 64 bits
      "6000 10good_glued_to_size\n"           // no blank between size and name
      "0x 10 empty_hex\n"                     // a prefix without digits
      "   7000\t20\t  tabs and spaces  \r\n"  // blanks of every kind, CRLF
      "8000 10 good_two\n";
  PerfMapParse parse = ParsePerfMap(text);
  REQUIRE(parse.entries.size() == 3);
  CHECK(parse.entries[0].name == "good_one");
  CHECK(parse.entries[1].start == 0x7000);
  CHECK(parse.entries[1].size == 0x20);
  CHECK(parse.entries[1].name == "tabs and spaces");
  CHECK(parse.entries[2].name == "good_two");
  CHECK(parse.malformed_lines == 9);
  CHECK(parse.consumed == text.size());
}

TEST_CASE("A perf map line over the limit is skipped, terminated or not") {
  const std::string huge(100000, 'x');
  const std::string text = "1000 10 before\n2000 10 " + huge + "\n3000 10 after\n";
  PerfMapParse parse = ParsePerfMap(text);
  REQUIRE(parse.entries.size() == 2);
  CHECK(parse.entries[0].name == "before");
  CHECK(parse.entries[1].name == "after");
  CHECK(parse.long_lines == 1);

  SECTION("an unfinished long line is left for later, not counted") {
    const std::string open_end = "1000 10 before\n2000 10 " + huge;
    PerfMapParse partial = ParsePerfMap(open_end);
    CHECK(partial.entries.size() == 1);
    CHECK(partial.long_lines == 0);
    CHECK(partial.consumed == std::string("1000 10 before\n").size());
  }
}

TEST_CASE("The last perf map line without a newline is parsed but left to read again") {
  const std::string text = "1000 10 done\n2000 10 being_writ";
  PerfMapParse parse = ParsePerfMap(text);
  REQUIRE(parse.entries.size() == 2);
  CHECK(parse.entries[1].name == "being_writ");
  CHECK(parse.consumed == std::string("1000 10 done\n").size());
  SECTION("an unfinished line that does not parse yet is no error") {
    PerfMapParse half = ParsePerfMap("1000 10 done\n2000 1");
    CHECK(half.entries.size() == 1);
    CHECK(half.malformed_lines == 0);
  }
}

TEST_CASE("The parser stops at the entry limit") {
  std::string text;
  for (int i = 0; i < 100; ++i) text += std::to_string(1000 + i * 16) + " 10 f\n";
  PerfMapLimits limits;
  limits.max_entries = 10;
  PerfMapParse parse = ParsePerfMap(text, limits);
  CHECK(parse.entries.size() == 10);
  CHECK(parse.entry_limit_reached);
  CHECK(parse.consumed == text.find("1160 10 f\n"));  // the 11th line is not consumed
}

TEST_CASE("The parser survives random bytes") {
  std::mt19937_64 random(42);
  const std::string alphabet = "0123456789abcdefxX \t\n\r:;[]~/.\xff";
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 300, ' ');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    PerfMapLimits limits;
    limits.max_line_bytes = 64;
    PerfMapParse parse = ParsePerfMap(text, limits);
    CHECK(parse.consumed <= text.size());
    for (const PerfMapEntry& entry : parse.entries) {
      CHECK(entry.size > 0);
      CHECK(!entry.name.empty());
      CHECK(entry.name.size() <= 64);
      CHECK(entry.name.data() >= text.data());
      CHECK(entry.name.data() + entry.name.size() <= text.data() + text.size());
    }
  }
}

TEST_CASE("The latest perf map entry covering an address wins") {
  PerfMapIndex index;
  const std::string text =
      "1000 100 old\n"   // [0x1000, 0x1100)
      "1040 20 inner\n"  // replaces the middle of old
      "2000 10 moved\n"
      "2000 10 recompiled\n"  // same place, new code
      "3000 100 wide\n"
      "2ff0 40 overlaps_head\n"   // covers the start of wide
      "30f0 20 overlaps_tail\n";  // covers its end
  REQUIRE(index.Add(ParsePerfMap(text).entries));
  CHECK(NameAt(index, 0xfff) == "<none>");
  CHECK(NameAt(index, 0x1000) == "old");
  CHECK(NameAt(index, 0x103f) == "old");
  CHECK(NameAt(index, 0x1040) == "inner");
  CHECK(NameAt(index, 0x105f) == "inner");
  CHECK(NameAt(index, 0x1060) == "old");
  CHECK(NameAt(index, 0x10ff) == "old");
  CHECK(NameAt(index, 0x1100) == "<none>");
  CHECK(NameAt(index, 0x2008) == "recompiled");
  CHECK(NameAt(index, 0x2ff0) == "overlaps_head");
  CHECK(NameAt(index, 0x302f) == "overlaps_head");
  CHECK(NameAt(index, 0x3030) == "wide");
  CHECK(NameAt(index, 0x30ef) == "wide");
  CHECK(NameAt(index, 0x30f0) == "overlaps_tail");
  CHECK(NameAt(index, 0x310f) == "overlaps_tail");
  CHECK(NameAt(index, 0x3110) == "<none>");
  // A trimmed range still says where its code starts.
  CHECK(index.Find(0x1060)->start == 0x1000);
  CHECK(index.Find(0x3030)->start == 0x3000);

  SECTION("an entry covering several older ones replaces them all") {
    REQUIRE(index.Add(ParsePerfMap("f00 3000 everything\n").entries));
    CHECK(index.size() == 1);
    CHECK(NameAt(index, 0x1040) == "everything");
    CHECK(NameAt(index, 0x3100) == "everything");
  }
  SECTION("control characters in names are replaced") {
    REQUIRE(index.Add(ParsePerfMap("9000 10 bell\x07\x1b[31mred\n").entries));
    CHECK(NameAt(index, 0x9000) == "bell??[31mred");
  }
}

TEST_CASE("The index holds at most max_entries ranges") {
  PerfMapIndex index(3);
  CHECK(index.Add(ParsePerfMap("1000 10 a\n2000 10 b\n").entries));
  CHECK_FALSE(index.Add(ParsePerfMap("3000 10 c\n4000 10 d\n").entries));
  CHECK(index.size() == 3);
  CHECK(NameAt(index, 0x3000) == "c");
  CHECK(NameAt(index, 0x4000) == "<none>");
}

TEST_CASE("Reads NSpid and Uid from /proc/PID/status") {
  const std::string status =
      "Name:\tnode\nUmask:\t0022\nState:\tR (running)\nTgid:\t41234\nNgid:\t0\n"
      "Pid:\t41234\nPPid:\t41200\nUid:\t1000\t1001\t1002\t1003\nGid:\t1000\t1000\t1000\t1000\n"
      "NStgid:\t41234\t7\nNSpid:\t41234\t7\nNSpgid:\t41200\t1\n";
  ProcStatusIds ids = ParseProcStatusIds(status);
  REQUIRE(ids.namespace_pid.has_value());
  CHECK(*ids.namespace_pid == 7);
  CHECK(ids.uids == std::vector<uint32_t>{1000, 1001, 1002, 1003});
  CHECK_FALSE(ParseProcStatusIds("Name:\tx\nPid:\t5\n").namespace_pid.has_value());
  CHECK_FALSE(ParseProcStatusIds("NSpid:\tbogus\n").namespace_pid.has_value());
  CHECK_FALSE(ParseProcStatusIds("NSpids:\t9\n").namespace_pid.has_value());
}

// This process's own perf map, as a JIT would write it.
class OwnPerfMap {
 public:
  OwnPerfMap() : path_("/tmp/perf-" + std::to_string(::getpid()) + ".map") {
    std::remove(path_.c_str());
  }
  ~OwnPerfMap() { std::remove(path_.c_str()); }
  void Append(const std::string& text) {
    std::ofstream out(path_, std::ios::app);
    out << text;
  }
  void Replace(const std::string& text) {
    const std::string temp = path_ + ".new";
    {
      std::ofstream out(temp);
      out << text;
    }
    REQUIRE(std::rename(temp.c_str(), path_.c_str()) == 0);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

PerfMapReader::Options Eager() {
  PerfMapReader::Options options;
  options.min_check_interval = std::chrono::milliseconds(0);
  return options;
}

std::string Lookup(PerfMapReader& reader, uint64_t address) {
  reader.Update();
  auto symbol = reader.Find(address);
  return symbol ? std::string(symbol->name) : "<none>";
}

TEST_CASE("The reader finds this process's perf map through its root and follows it") {
  OwnPerfMap map;
  PerfMapReader reader(::getpid(), Eager());
  CHECK(Lookup(reader, 0x1000) == "<none>");  // no file yet: no error either
  const uint64_t generation = reader.generation();

  map.Append("1000 10 first\n");
  CHECK(Lookup(reader, 0x1000) == "first");
  CHECK(reader.path() == "/proc/" + std::to_string(::getpid()) + "/root/tmp/perf-" +
                             std::to_string(::getpid()) + ".map");
  CHECK(reader.generation() != generation);

  SECTION("appended lines are read, a half-written one once complete") {
    map.Append("2000 10 second\n3000 10 thi");
    CHECK(Lookup(reader, 0x2000) == "second");
    CHECK(Lookup(reader, 0x3000) == "thi");
    map.Append("rd\n");
    CHECK(Lookup(reader, 0x3000) == "third");
    CHECK(Lookup(reader, 0x1000) == "first");
    CHECK(reader.entry_count() == 3);
  }
  SECTION("a replaced file is read from the start") {
    map.Replace("4000 10 fresh\n");
    CHECK(Lookup(reader, 0x4000) == "fresh");
    CHECK(Lookup(reader, 0x1000) == "<none>");
  }
  SECTION("an unchanged file is not read again") {
    const uint64_t before = reader.generation();
    CHECK(Lookup(reader, 0x1000) == "first");
    CHECK(reader.generation() == before);
  }
}

TEST_CASE("The reader checks the file at most once per interval") {
  OwnPerfMap map;
  PerfMapReader::Options options;
  options.min_check_interval = std::chrono::milliseconds(300);
  PerfMapReader reader(::getpid(), options);
  CHECK(Lookup(reader, 0x1000) == "<none>");
  map.Append("1000 10 late\n");
  CHECK(Lookup(reader, 0x1000) == "<none>");  // checked a moment ago
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  CHECK(Lookup(reader, 0x1000) == "late");
}

TEST_CASE("The reader reads at most max_file_bytes and skips a line longer than a chunk") {
  OwnPerfMap map;
  std::string text = "1000 10 head\n2000 10 " + std::string(3 << 20, 'y') + "\n3000 10 tail\n";
  map.Append(text);
  PerfMapReader reader(::getpid(), Eager());
  CHECK(Lookup(reader, 0x1000) == "head");
  CHECK(Lookup(reader, 0x2000) == "<none>");
  CHECK(Lookup(reader, 0x3000) == "tail");

  PerfMapReader::Options capped = Eager();
  capped.max_file_bytes = 100;
  PerfMapReader small(::getpid(), capped);
  CHECK(Lookup(small, 0x1000) == "head");
  CHECK(Lookup(small, 0x3000) == "<none>");
}

TEST_CASE("The reader ignores a perf map owned by another user") {
  OwnPerfMap map;
  map.Append("1000 10 planted\n");
  REQUIRE(::chown(map.path().c_str(), 12345, 12345) == 0);  // the tests run as root
  PerfMapReader reader(::getpid(), Eager());
  CHECK(Lookup(reader, 0x1000) == "<none>");
  REQUIRE(::chown(map.path().c_str(), ::getuid(), ::getgid()) == 0);
  CHECK(Lookup(reader, 0x1000) == "planted");
}

TEST_CASE("The reader ignores what is not a regular file") {
  OwnPerfMap map;
  REQUIRE(::mkfifo(map.path().c_str(), 0600) == 0);
  PerfMapReader reader(::getpid(), Eager());
  CHECK(Lookup(reader, 0x1000) == "<none>");  // and does not block on the FIFO
}

// A process in its own PID and mount namespaces with a private /tmp, like a container's: it is
// PID 1 there, and its perf map is /tmp/perf-1.map in a /tmp the host cannot see at that path.
class ContainedProcess {
 public:
  explicit ContainedProcess(const std::string& perf_map_text) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    unshare_pid_ = ::fork();
    REQUIRE(unshare_pid_ >= 0);
    if (unshare_pid_ == 0) {
      ::dup2(out[1], 1);
      const std::string script = "mount -t tmpfs none /tmp && printf '" + perf_map_text +
                                 "' > /tmp/perf-$$.map && echo ready && exec sleep 600";
      ::execlp("unshare", "unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc",
               "sh", "-c", script.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    char buf[16] = {};
    ssize_t n = ::read(out[0], buf, sizeof(buf) - 1);
    ::close(out[0]);
    INFO("unshare (util-linux) must run as root");
    REQUIRE(std::string(buf, n > 0 ? n : 0) == "ready\n");
    std::ifstream children("/proc/" + std::to_string(unshare_pid_) + "/task/" +
                           std::to_string(unshare_pid_) + "/children");
    REQUIRE(children >> pid_);
  }
  ~ContainedProcess() {
    ::kill(unshare_pid_, SIGKILL);  // --kill-child takes the contained process along
    ::waitpid(unshare_pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }  // as the host sees it

 private:
  pid_t unshare_pid_ = -1;
  pid_t pid_ = -1;
};

TEST_CASE("The reader finds a contained process's perf map under its namespaced PID and root") {
  ContainedProcess contained("1000 10 in_container\\n");
  // What a reader using the host's PID or the host's /tmp would find instead.
  const std::string decoy = "/tmp/perf-" + std::to_string(contained.pid()) + ".map";
  {
    std::ofstream out(decoy);
    out << "1000 10 host_decoy\n";
  }
  PerfMapReader reader(contained.pid(), Eager());
  CHECK(Lookup(reader, 0x1000) == "in_container");
  CHECK(reader.path() == "/proc/" + std::to_string(contained.pid()) + "/root/tmp/perf-1.map");
  std::remove(decoy.c_str());
}

}  // namespace
}  // namespace pprofd::symbolizer
