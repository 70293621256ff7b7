#include "tests/e2e/harness/perf_reference.h"

#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"
#include "tests/e2e/harness/subprocess.h"

namespace pprofd::e2e {
namespace {

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

// "55d0c1d0 Spin+0x20 (/path/bin)" or "2508e3 _PyEval_EvalFrame (inlined)".
bool ParseFrameLine(const std::string& line, PerfFrame* frame) {
  std::string text = Trim(line);
  size_t space = text.find(' ');
  size_t open = text.rfind(" (");
  if (space == std::string::npos || open == std::string::npos || open < space ||
      text.back() != ')') {
    return false;
  }
  frame->function = text.substr(space + 1, open - space - 1);
  // perf appends "+0x20" to symbol names when asked for offsets; -F sym alone does not, but a
  // name never holds "+0x" otherwise.
  if (size_t plus = frame->function.rfind("+0x"); plus != std::string::npos) {
    frame->function.resize(plus);
  }
  frame->dso = text.substr(open + 2, text.size() - open - 3);
  frame->inlined = frame->dso == "inlined";
  return true;
}

}  // namespace

std::vector<std::vector<PerfFrame>> ParsePerfScript(const std::string& text) {
  std::vector<std::vector<PerfFrame>> stacks;
  std::istringstream in(text);
  std::string line;
  bool in_sample = false;
  while (std::getline(in, line)) {
    if (Trim(line).empty()) {
      in_sample = false;
      continue;
    }
    // Frames are indented with a tab; a sample's header is not, though perf right-aligns the
    // tid in it (" 8217", a space first, for PIDs below 10000).
    if (line[0] != '\t') {
      stacks.emplace_back();
      in_sample = true;
      continue;
    }
    PerfFrame frame;
    if (in_sample && ParseFrameLine(line, &frame)) stacks.back().push_back(std::move(frame));
  }
  return stacks;
}

PerfRecording RecordWithPerf(pid_t pid, int seconds, int hz, int stack_bytes) {
  PerfRecording recording;
  const std::string data = TempDir() + "/perf.data";
  // cpu-clock: this VM has no hardware counters, and pprofd samples the same software clock.
  CommandResult record =
      RunCommand({"perf", "record", "-q", "-e", "cpu-clock", "-F", std::to_string(hz),
                  "--call-graph", "dwarf," + std::to_string(stack_bytes), "-p", std::to_string(pid),
                  "-o", data, "--", "sleep", std::to_string(seconds)},
                 std::chrono::seconds(seconds + 60));
  if (record.exit_code != 0) {
    recording.error = "perf record exited " + std::to_string(record.exit_code) + ": " + record.err;
    return recording;
  }
  CommandResult script =
      RunCommand({"perf", "script", "-i", data, "-F", "tid,ip,sym,dso"}, std::chrono::seconds(120));
  if (script.exit_code != 0) {
    recording.error = "perf script exited " + std::to_string(script.exit_code) + ": " + script.err;
    return recording;
  }
  recording.stacks = ParsePerfScript(script.out);
  recording.ok = !recording.stacks.empty();
  if (!recording.ok) recording.error = "perf recorded no samples: " + record.err;
  return recording;
}

bool IsThreadRoot(const std::string& outermost) {
  static const std::set<std::string> kRoots = {
      "_start",         "__clone3",       "__clone",        "clone",           "clone3",
      "runtime.goexit", "runtime.mstart", "runtime.rt0_go", "_rt0_amd64_linux"};
  return kRoots.count(outermost) != 0;
}

double RootReachedPercent(const PerfRecording& recording) {
  if (recording.stacks.empty()) return 0;
  size_t complete = 0;
  for (const auto& stack : recording.stacks) {
    if (!stack.empty() && IsThreadRoot(stack.back().function)) ++complete;
  }
  return 100.0 * static_cast<double>(complete) / static_cast<double>(recording.stacks.size());
}

double RootReachedPercent(const RawProfile& profile) {
  int64_t total = 0;
  int64_t complete = 0;
  for (const auto& sample : profile.samples) {
    int64_t count = sample.values.empty() ? 0 : sample.values[0];
    total += count;
    std::vector<std::string> functions = profile.Functions(sample);
    if (!functions.empty() && IsThreadRoot(functions.back())) complete += count;
  }
  return total == 0 ? 0 : 100.0 * static_cast<double>(complete) / static_cast<double>(total);
}

bool ProfileBesidePerf(const std::string& profile_url, pid_t pid, int seconds, RawProfile* profile,
                       PerfRecording* perf, std::string* error) {
  std::thread perf_thread([&] { *perf = RecordWithPerf(pid, seconds); });
  bool fetched = FetchRawProfile(profile_url, profile, error);
  perf_thread.join();
  if (!fetched) return false;
  if (!perf->ok) {
    *error = perf->error;
    return false;
  }
  return true;
}

}  // namespace pprofd::e2e
