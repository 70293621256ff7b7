// The thread profile writers on real frames of this very process (so symbolization is real) and
// kernel frames named from a golden kallsyms: the pprof form checked against pprof's invariants
// and read back by the real `go tool pprof`, Go's grouped text (?debug=1) parsed by pprof's legacy
// count-profile parser, and the per-thread dump (?debug=2).
#include "agent/kinds/threads/thread_profile_writer.h"

#include <dlfcn.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"
#include "tests/proto/pprof_invariants.h"
#include "tests/support/go_tool.h"
#include "tests/support/this_process.h"

extern "C" __attribute__((noinline)) int ThreadTestWait(int x) { return x * 7 + 1; }
extern "C" __attribute__((noinline)) int ThreadTestWorker(int x) { return ThreadTestWait(x) + 2; }
extern "C" __attribute__((noinline)) int ThreadTestMain(int x) { return ThreadTestWorker(x) + 3; }

// Code of its own inlined into ThreadTestOuter, so some address there has an inline chain.
volatile int thread_test_sink;
static inline __attribute__((always_inline)) void ThreadTestInlined(int x) {
  for (int i = 0; i < x; ++i) thread_test_sink = thread_test_sink * 3 + i;
}
extern "C" __attribute__((noinline)) void ThreadTestOuter(int x) {
  thread_test_sink = x;
  ThreadTestInlined(x);
  thread_test_sink = thread_test_sink + 1;
}

namespace pprofd::profiles {
namespace {

using perftools::profiles::Profile;
using testing::RawSampleValues;
using testing::ThisProcess;

constexpr char kKallsyms[] =
    "ffffffff81000000 T _stext\n"
    "ffffffff81100000 T schedule\n"
    "ffffffff81100400 T futex_wait_queue\n"
    "ffffffff81200000 T do_syscall_64\n"
    "ffffffff81300000 T _etext\n";
constexpr uint64_t kSchedule = 0xffffffff81100010;
constexpr uint64_t kFutexWait = 0xffffffff81100420;

// An address in ThreadTestOuter that the symbolizer resolves to ThreadTestInlined inside it.
Frame InlinedFrame(ThisProcess& process) {
  Frame frame = process.FrameAt(reinterpret_cast<const void*>(&ThreadTestOuter));
  for (int i = 0; i < 512; ++i, ++frame.address) {
    const auto& lines = process.symbolizer.Lines(frame);
    if (lines.size() >= 2 && lines.front().function == "ThreadTestInlined") return frame;
    if (lines.empty() || lines.back().function != "ThreadTestOuter") break;
  }
  FAIL("no address of ThreadTestOuter symbolizes to the inlined ThreadTestInlined");
  return frame;
}

// Five threads: two workers with one stack, a main thread waiting in a futex, a busy thread on a
// CPU in inlined code whose unwinding stopped early, and a thread in zlib, which has symbols but
// no line info (Debian ships no zlib debug package by default).
struct Workload {
  explicit Workload(ThisProcess& process) {
    wait = process.FrameAt(reinterpret_cast<const void*>(&ThreadTestWait));
    worker = process.FrameAt(reinterpret_cast<const void*>(&ThreadTestWorker));
    main = process.FrameAt(reinterpret_cast<const void*>(&ThreadTestMain));
    inlined = InlinedFrame(process);
    libz = process.Symbol("zlibVersion");
    {
      const auto& lines = process.symbolizer.Lines(libz);
      REQUIRE(lines.size() == 1);
      INFO("zlibVersion symbolized to " << lines[0].function << " at " << lines[0].filename
                                        << "; the test needs a library without line info");
      REQUIRE(lines[0].filename.empty());
    }
    schedule = Frame{kKernelModule, kSchedule};
    futex = Frame{kKernelModule, kFutexWait};
    truncated = Frame{kMarkerModule, static_cast<uint64_t>(Marker::kUnwindTruncated)};

    // Not in tid order: the writers sort.
    // The last field: how long the thread has been off CPU, where known.
    threads.push_back(
        {300, "main", 'S', false, 2'000'000'000, {schedule, futex, wait, main}, 12'340'000'000});
    threads.push_back(
        {102, "worker", 'S', false, 10'000'000, {schedule, worker, main}, std::nullopt});
    threads.push_back(
        {200, "busy", 'R', true, 1'250'000'000, {inlined, main, truncated}, std::nullopt});
    threads.push_back(
        {101, "worker", 'S', false, 20'000'000, {schedule, worker, main}, 850'000'000});
    threads.push_back({400, "odd", 'D', false, 0, {libz, main}, std::nullopt});
  }

  Frame wait, worker, main, inlined, libz, schedule, futex, truncated;
  std::vector<ThreadState> threads;
};

ThreadProfileMeta Meta() {
  ThreadProfileMeta meta;
  meta.time_wall_ns = 1700000000000000000;
  meta.comments = {"pprofd thread test", "5 threads\nno loss"};
  return meta;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Hex(uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::string FunctionName(const Profile& profile, uint64_t location_id) {
  for (const auto& location : profile.location()) {
    if (location.id() != location_id || location.line_size() == 0) continue;
    uint64_t function_id = location.line(0).function_id();
    for (const auto& function : profile.function()) {
      if (function.id() == function_id) return profile.string_table(function.name());
    }
  }
  return "";
}

std::string MappingFile(const Profile& profile, uint64_t location_id) {
  for (const auto& location : profile.location()) {
    if (location.id() != location_id) continue;
    for (const auto& mapping : profile.mapping()) {
      if (mapping.id() == location.mapping_id()) return profile.string_table(mapping.filename());
    }
  }
  return "";
}

TEST_CASE("Thread state names are those of ps and /proc/PID/status") {
  CHECK(ThreadStateName('R') == "running");
  CHECK(ThreadStateName('S') == "sleeping");
  CHECK(ThreadStateName('D') == "disk sleep");
  CHECK(ThreadStateName('T') == "stopped");
  CHECK(ThreadStateName('t') == "tracing stop");
  CHECK(ThreadStateName('Z') == "zombie");
  CHECK(ThreadStateName('X') == "dead");
  CHECK(ThreadStateName('I') == "idle");
  CHECK(ThreadStateName('P') == "parked");
  CHECK(ThreadStateName('W') == "unknown (W)");
  CHECK(ThreadStateName('?') == "unknown (?)");
}

TEST_CASE("Durations read as people write them") {
  CHECK(HumanDuration(0) == "0.0 ms");
  CHECK(HumanDuration(17'740'000) == "17.7 ms");
  CHECK(HumanDuration(999'940'000) == "999.9 ms");
  CHECK(HumanDuration(1'000'000'000) == "1.00 s");
  CHECK(HumanDuration(119'994'000'000) == "119.99 s");
  CHECK(HumanDuration(120'000'000'000) == "2 min 0 s");
  CHECK(HumanDuration(312'900'000'000) == "5 min 12 s");
  CHECK(HumanDuration(7'199'000'000'000) == "119 min 59 s");
  CHECK(HumanDuration(11'220'000'000'000) == "3 h 7 min");
}

TEST_CASE("Thread profile: one sample per thread with its labels, kernel frames on top") {
  ThisProcess process(kKallsyms);
  Workload workload(process);
  proto::ProfileBuilder builder =
      BuildThreadProfile(workload.threads, process.symbolizer, process.MainModule(), Meta());
  REQUIRE(builder.status().ok());
  const Profile& profile = builder.profile();
  CHECK(testing::CheckProfileInvariants(profile).empty());

  REQUIRE(profile.sample_type_size() == 1);
  CHECK(profile.string_table(profile.sample_type(0).type()) == "threads");
  CHECK(profile.string_table(profile.sample_type(0).unit()) == "count");
  CHECK(profile.string_table(profile.period_type().type()) == "threads");
  CHECK(profile.string_table(profile.period_type().unit()) == "count");
  CHECK(profile.period() == 1);
  CHECK(profile.time_nanos() == 1700000000000000000);
  REQUIRE(profile.comment_size() == 2);
  CHECK(profile.string_table(profile.comment(0)) == "pprofd thread test");
  char exe[4096] = {};
  REQUIRE(::readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0);
  REQUIRE(profile.mapping_size() >= 2);
  CHECK(profile.string_table(profile.mapping(0).filename()) == exe);

  // Samples in tid order, value 1, labels thread_id (numeric), thread_name, state.
  REQUIRE(profile.sample_size() == 5);
  const std::vector<std::tuple<int64_t, std::string, std::string>> expected = {
      {101, "worker", "sleeping"},
      {102, "worker", "sleeping"},
      {200, "busy", "running"},
      {300, "main", "sleeping"},
      {400, "odd", "disk sleep"}};
  for (int i = 0; i < profile.sample_size(); ++i) {
    const auto& sample = profile.sample(i);
    REQUIRE(sample.value_size() == 1);
    CHECK(sample.value(0) == 1);
    std::map<std::string, std::string> strings;
    std::map<std::string, int64_t> numbers;
    std::map<std::string, std::string> units;
    for (const auto& label : sample.label()) {
      const std::string& key = profile.string_table(label.key());
      if (label.str() != 0) {
        strings[key] = profile.string_table(label.str());
      } else {
        numbers[key] = label.num();
        units[key] = profile.string_table(label.num_unit());
      }
    }
    // How long a thread has been off CPU, where known: numeric, in nanoseconds.
    std::map<std::string, int64_t> expected_numbers = {{"thread_id", std::get<0>(expected[i])}};
    std::map<std::string, std::string> expected_units = {{"thread_id", ""}};
    if (std::get<0>(expected[i]) == 101 || std::get<0>(expected[i]) == 300) {
      expected_numbers["off_cpu"] = std::get<0>(expected[i]) == 101 ? 850'000'000 : 12'340'000'000;
      expected_units["off_cpu"] = "nanoseconds";
    }
    CHECK(numbers == expected_numbers);
    CHECK(units == expected_units);
    CHECK(strings == std::map<std::string, std::string>{{"thread_name", std::get<1>(expected[i])},
                                                        {"state", std::get<2>(expected[i])}});
  }

  // The main thread (tid 300): kernel frames first (leaf), in the kernel mapping, then its own.
  const auto& main_sample = profile.sample(3);
  REQUIRE(main_sample.location_id_size() == 4);
  CHECK(FunctionName(profile, main_sample.location_id(0)) == "schedule");
  CHECK(FunctionName(profile, main_sample.location_id(1)) == "futex_wait_queue");
  CHECK(MappingFile(profile, main_sample.location_id(0)) == "[kernel]");
  CHECK(MappingFile(profile, main_sample.location_id(1)) == "[kernel]");
  CHECK(FunctionName(profile, main_sample.location_id(2)) == "ThreadTestWait");
  CHECK(FunctionName(profile, main_sample.location_id(3)) == "ThreadTestMain");
  CHECK(MappingFile(profile, main_sample.location_id(3)) == exe);
  // Same stack, same locations.
  CHECK(std::vector<uint64_t>(profile.sample(0).location_id().begin(),
                              profile.sample(0).location_id().end()) ==
        std::vector<uint64_t>(profile.sample(1).location_id().begin(),
                              profile.sample(1).location_id().end()));
  // The busy thread's inline chain and its marker.
  const auto& busy = profile.sample(2);
  REQUIRE(busy.location_id_size() == 3);
  CHECK(FunctionName(profile, busy.location_id(0)) == "ThreadTestInlined");
  CHECK(FunctionName(profile, busy.location_id(2)) == "[unwind: truncated]");
}

TEST_CASE("Thread profile of no threads is valid and empty") {
  ThisProcess process(kKallsyms);
  proto::ProfileBuilder builder =
      BuildThreadProfile({}, process.symbolizer, process.MainModule(), Meta());
  CHECK(testing::CheckProfileInvariants(builder.profile()).empty());
  CHECK(builder.profile().sample_size() == 0);
  CHECK(ThreadProfileGroupedText({}, process.symbolizer, Meta()) ==
        "threads profile: total 0\n\n# pprofd\n# pprofd thread test\n# 5 threads no loss\n");
  CHECK(ThreadDumpText({}, process.symbolizer, Meta()) ==
        "# pprofd\n# pprofd thread test\n# 5 threads no loss\n");
}

TEST_CASE("Thread profile text: Go's goroutine?debug=1 form, identical stacks grouped") {
  ThisProcess process(kKallsyms);
  Workload workload(process);
  const std::string text = ThreadProfileGroupedText(workload.threads, process.symbolizer, Meta());
  INFO(text);
  const std::vector<std::string> lines = Lines(text);
  REQUIRE(lines.size() > 10);
  CHECK(lines[0] == "threads profile: total 5");

  // Groups: the two workers first, then one group per thread in tid order.
  std::vector<std::string> records;
  std::vector<std::string> members;
  for (const std::string& line : lines) {
    if (std::regex_search(line, std::regex(R"(^\d+ @)"))) records.push_back(line);
    if (line.rfind("# threads:", 0) == 0) members.push_back(line);
  }
  auto at = [](std::initializer_list<Frame> frames) {
    std::string out = " @";
    for (const Frame& frame : frames) {
      out += " " + Hex(frame.module == kMarkerModule ? frame.address : frame.address + 1);
    }
    return out;
  };
  REQUIRE(records.size() == 4);
  CHECK(records[0] == "2" + at({workload.schedule, workload.worker, workload.main}));
  CHECK(records[1] == "1" + at({workload.inlined, workload.main, workload.truncated}));
  CHECK(records[2] == "1" + at({workload.schedule, workload.futex, workload.wait, workload.main}));
  CHECK(records[3] == "1" + at({workload.libz, workload.main}));
  REQUIRE(members.size() == 4);
  CHECK(members[0] == "# threads: 101 \"worker\" sleeping, 102 \"worker\" sleeping");
  CHECK(members[1] == "# threads: 200 \"busy\" running");
  CHECK(members[3] == "# threads: 400 \"odd\" disk sleep");

  // The first group in full: count line, members, one "#" line per frame, a blank line.
  CHECK(lines[1] == records[0]);
  CHECK(lines[2] == members[0]);
  CHECK(lines[3] == "#\t" + Hex(kSchedule) + "\tschedule");
  CHECK(lines[4].rfind("#\t" + Hex(workload.worker.address) + "\tThreadTestWorker+0x0\t", 0) == 0);
  CHECK(std::regex_search(lines[4], std::regex(R"(thread_profile_writer_test\.cpp:\d+$)")));
  CHECK(lines[5].rfind("#\t" + Hex(workload.main.address) + "\tThreadTestMain+0x0\t", 0) == 0);
  CHECK(lines[6].empty());
  // The busy group: the inline chain as two "#" lines of one address, then the marker.
  CHECK(lines[9].rfind("#\t" + Hex(workload.inlined.address) + "\tThreadTestInlined+0x0\t", 0) ==
        0);
  CHECK(lines[10].rfind("#\t" + Hex(workload.inlined.address) + "\tThreadTestOuter+0x0\t", 0) == 0);
  CHECK(lines[12] == "#\t0x1\t[unwind: truncated]");

  CHECK(Contains(text, "\n\n# pprofd\n# pprofd thread test\n# 5 threads no loss\n"));
  CHECK(text.back() == '\n');
}

TEST_CASE("Thread dump: Go's goroutine?debug=2 form, one block per thread in tid order") {
  ThisProcess process(kKallsyms);
  Workload workload(process);
  const std::string text = ThreadDumpText(workload.threads, process.symbolizer, Meta());
  INFO(text);

  // Comments first, then blocks separated by blank lines.
  CHECK(text.rfind("# pprofd\n# pprofd thread test\n# 5 threads no loss\n\nthread 101 ", 0) == 0);
  std::vector<std::string> blocks;
  {
    size_t start = text.find("\n\n") + 2;
    while (start < text.size()) {
      size_t end = text.find("\n\n", start);
      if (end == std::string::npos) end = text.size() - 1;
      blocks.push_back(text.substr(start, end - start));
      start = end + 2;
    }
  }
  REQUIRE(blocks.size() == 5);
  const std::string file_line = R"(\t/\S+/thread_profile_writer_test\.cpp:\d+\n)";
  auto matches = [](const std::string& block, const std::string& pattern) {
    INFO(block);
    return std::regex_match(block + "\n", std::regex(pattern));
  };
  CHECK(matches(blocks[0],
                R"(thread 101 "worker" \[sleeping, off CPU for 850\.0 ms, 0\.02 s CPU\]:\n)"
                R"(schedule \[kernel\]\n)"
                R"(ThreadTestWorker\n)" +
                    file_line + R"(ThreadTestMain\n)" + file_line));
  CHECK(blocks[1].rfind("thread 102 \"worker\" [sleeping, 0.01 s CPU]:\n", 0) == 0);
  CHECK(matches(blocks[2], R"(thread 200 "busy" \[running, on CPU, 1\.25 s CPU\]:\n)"
                           R"(ThreadTestInlined \(inlined\)\n)" +
                               file_line + R"(ThreadTestOuter\n)" + file_line +
                               R"(ThreadTestMain\n)" + file_line + R"(\[unwind: truncated\]\n)"));
  CHECK(matches(blocks[3], R"(thread 300 "main" \[sleeping, off CPU for 12\.34 s, 2\.00 s CPU\]:\n)"
                           R"(schedule \[kernel\]\n)"
                           R"(futex_wait_queue \[kernel\]\n)"
                           R"(ThreadTestWait\n)" +
                               file_line + R"(ThreadTestMain\n)" + file_line));
  // zlib has symbols but no line info: the module and offset stand for file:line.
  CHECK(matches(blocks[4], R"(thread 400 "odd" \[disk sleep, 0\.00 s CPU\]:\n)"
                           R"(zlibVersion\n)"
                           R"(\tlibz\.so\.1\S*\+0x[0-9a-f]+\n)"
                           R"(ThreadTestMain\n)" +
                               file_line));
  CHECK(text.back() == '\n');
  CHECK(text[text.size() - 2] != '\n');

  SECTION("frames without symbols or mapping show module+offset or the address") {
    // The vDSO's ELF header: executable memory, but in no function.
    Frame header =
        process.FrameAt(reinterpret_cast<const char*>(::getauxval(AT_SYSINFO_EHDR)) + 0x10);
    const auto& lines = process.symbolizer.Lines(header);
    REQUIRE(lines.size() == 1);
    ThreadState thread{
        8, "jit", 'S', false, 0, {Frame{kUnknownModule, 0x7000dead}, header}, std::nullopt};
    CHECK(ThreadDumpText({thread}, process.symbolizer, ThreadProfileMeta{}) ==
          "# pprofd\n\nthread 8 \"jit\" [sleeping, 0.00 s CPU]:\n0x7000dead\n\t[no mapping]\n" +
              lines[0].function + "\n");
    CHECK(std::regex_match(lines[0].function, std::regex(R"(\[vdso\]\+0x1[01])")));
  }

  SECTION("a thread without frames says so") {
    ThreadState empty{7, "kthread", 'I', false, 0, {}, std::nullopt};
    CHECK(ThreadDumpText({empty}, process.symbolizer, ThreadProfileMeta{}) ==
          "# pprofd\n\nthread 7 \"kthread\" [idle, 0.00 s CPU]:\n[no stack]\n");
  }
}

TEST_CASE("go tool pprof reads the thread profiles", "[go]") {
  testing::GoTool go;
  if (!go.ok()) FAIL("`go` not found in PATH; install golang-go to run the pprof client");
  ThisProcess process(kKallsyms);
  Workload workload(process);
  proto::ProfileBuilder builder =
      BuildThreadProfile(workload.threads, process.symbolizer, process.MainModule(), Meta());
  const auto profile_file = go.WriteFile("threads.pb.gz", builder.SerializeGzipped());
  const auto text_file = go.WriteFile(
      "threads.txt", ThreadProfileGroupedText(workload.threads, process.symbolizer, Meta()));

  SECTION("-traces shows one trace per thread with its labels, kernel frames on top") {
    testing::CommandResult traces = go.Pprof("-traces", profile_file);
    INFO(traces.output);
    REQUIRE(traces.exit_code == 0);
    CHECK(Contains(traces.output, "Type: threads"));
    // One trace per thread: traces are separated by dashed lines.
    std::vector<std::string> sections;
    std::string current;
    for (const std::string& line : Lines(traces.output)) {
      if (line.rfind("-----------", 0) == 0) {
        if (!current.empty()) sections.push_back(current);
        current.clear();
      } else {
        current += line + "\n";
      }
    }
    if (!current.empty()) sections.push_back(current);
    std::vector<std::string> traces_only;
    for (const std::string& section : sections) {
      if (Contains(section, "thread_name:")) traces_only.push_back(section);
    }
    REQUIRE(traces_only.size() == 5);
    std::set<std::string> seen;
    for (const std::string& section : traces_only) {
      std::smatch tid;
      REQUIRE(std::regex_search(section, tid, std::regex(R"(thread_id: +(\d+)\n)")));
      seen.insert(tid[1].str());
      if (tid[1].str() == "300") {
        CHECK(std::regex_search(section, std::regex(R"(thread_name: +main\n)")));
        CHECK(std::regex_search(section, std::regex(R"(state: +sleeping\n)")));
        // Leaf first: the kernel's frames above the thread's own.
        const size_t schedule = section.find("schedule");
        const size_t futex = section.find("futex_wait_queue");
        const size_t wait = section.find("ThreadTestWait");
        const size_t main = section.find("ThreadTestMain");
        CHECK(schedule < futex);
        CHECK(futex < wait);
        CHECK(wait < main);
        CHECK(main != std::string::npos);
      }
    }
    CHECK(seen == std::set<std::string>{"101", "102", "200", "300", "400"});
  }

  SECTION("-tags lists the thread names and states") {
    testing::CommandResult tags = go.Pprof("-tags", profile_file);
    INFO(tags.output);
    REQUIRE(tags.exit_code == 0);
    CHECK(std::regex_search(tags.output, std::regex(R"(thread_name: Total 5)")));
    CHECK(std::regex_search(tags.output, std::regex(R"(2\.0 \(40\.00%\): worker)")));
    CHECK(Contains(tags.output, "): busy"));
    CHECK(std::regex_search(tags.output, std::regex(R"(state: Total 5)")));
    CHECK(std::regex_search(tags.output, std::regex(R"(3\.0 \(60\.00%\): sleeping)")));
    CHECK(Contains(tags.output, "): disk sleep"));
    CHECK(std::regex_search(tags.output, std::regex(R"(thread_id: Total 5)")));
    CHECK(std::regex_search(tags.output, std::regex(R"(1\.0 \(20\.00%\): 300)")));
  }

  SECTION("-tagfocus on off_cpu picks the threads off CPU at least that long") {
    testing::CommandResult stuck = go.Pprof("-traces -tagfocus=off_cpu=10s:", profile_file);
    INFO(stuck.output);
    REQUIRE(stuck.exit_code == 0);
    CHECK(std::regex_search(stuck.output, std::regex(R"(thread_id: +300\n)")));
    CHECK(std::regex_search(stuck.output, std::regex(R"(off_cpu: +12\.34s\n)")));
    CHECK_FALSE(std::regex_search(stuck.output, std::regex(R"(thread_id: +101\n)")));
    CHECK_FALSE(std::regex_search(stuck.output, std::regex(R"(thread_id: +200\n)")));
  }

  SECTION("-tagfocus selects threads by numeric id") {
    testing::CommandResult focus = go.Pprof("-traces -tagfocus=thread_id=300", profile_file);
    INFO(focus.output);
    REQUIRE(focus.exit_code == 0);
    CHECK(std::regex_search(focus.output, std::regex(R"(thread_name: +main\n)")));
    CHECK(Contains(focus.output, "futex_wait_queue"));
    CHECK_FALSE(Contains(focus.output, "worker"));
  }

  SECTION("the debug=1 text parses to the same counts") {
    testing::CommandResult raw = go.Pprof("-raw", text_file);
    INFO(raw.output);
    REQUIRE(raw.exit_code == 0);
    CHECK(Contains(raw.output, "PeriodType: threads count"));
    CHECK(Contains(raw.output, "threads/count"));
    CHECK(RawSampleValues(raw.output) == std::vector<std::vector<int64_t>>{{2}, {1}, {1}, {1}});
    testing::CommandResult profile_raw = go.Pprof("-raw", profile_file);
    INFO(profile_raw.output);
    REQUIRE(profile_raw.exit_code == 0);
    CHECK(Contains(profile_raw.output, "PeriodType: threads count"));
    CHECK(RawSampleValues(profile_raw.output) ==
          std::vector<std::vector<int64_t>>{{1}, {1}, {1}, {1}, {1}});
    // The text's stacks are the frames' addresses, kernel ones included.
    CHECK(Contains(raw.output, Hex(kSchedule)));
    CHECK(Contains(raw.output, Hex(workload.main.address)));
  }
}

}  // namespace
}  // namespace pprofd::profiles
