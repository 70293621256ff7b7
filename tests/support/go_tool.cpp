#include "tests/support/go_tool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace pprofd::testing {
namespace {

namespace fs = std::filesystem;

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

}  // namespace

std::vector<std::vector<int64_t>> RawSampleValues(const std::string& raw_output) {
  std::vector<std::vector<int64_t>> values;
  std::istringstream lines(raw_output);
  std::string line;
  bool in_samples = false;
  static const std::regex kSampleLine(R"(^\s*(-?\d+(?:\s+-?\d+)*):)");
  while (std::getline(lines, line)) {
    if (line.rfind("Samples:", 0) == 0) {
      in_samples = true;
      continue;
    }
    if (line.rfind("Locations", 0) == 0 || line.rfind("Mappings", 0) == 0) in_samples = false;
    std::smatch match;
    if (!in_samples || !std::regex_search(line, match, kSampleLine)) continue;
    std::istringstream numbers(match[1].str());
    std::vector<int64_t> sample;
    for (int64_t value; numbers >> value;) sample.push_back(value);
    values.push_back(std::move(sample));
  }
  return values;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

GoTool::GoTool() : go_(FindInPath("go")) {
  std::string templ = (fs::temp_directory_path() / "pprofd-heap-test-XXXXXX").string();
  if (::mkdtemp(templ.data()) != nullptr) dir_ = templ;
}

GoTool::~GoTool() {
  std::error_code ignored;
  if (!dir_.empty()) fs::remove_all(dir_, ignored);
}

fs::path GoTool::WriteFile(const std::string& name, const std::string& bytes) const {
  fs::path file = dir_ / name;
  std::ofstream(file, std::ios::binary) << bytes;
  return file;
}

std::string GoTool::Env() const {
  return "env HOME='" + dir_.string() + "' GOCACHE='" + (dir_ / "gocache").string() + "' GOPATH='" +
         (dir_ / "gopath").string() + "' GO111MODULE=off GOFLAGS= PPROF_TMPDIR='" + dir_.string() +
         "' PPROF_BINARY_PATH='" + (dir_ / "no-binaries").string() + "' ";
}

CommandResult GoTool::Pprof(const std::string& flags, const fs::path& file) const {
  return RunCommand(Env() + "'" + go_ + "' tool pprof " + flags + " '" + file.string() + "'");
}

CommandResult GoTool::RunProgram(const std::string& source) const {
  fs::path file = WriteFile("main.go", source);
  return RunCommand(Env() + "'" + go_ + "' run '" + file.string() + "'");
}

CommandResult GoTool::Build(const fs::path& source_file, const fs::path& output) const {
  return RunCommand(Env() + "'" + go_ + "' build -o '" + output.string() + "' '" +
                    source_file.string() + "'");
}

}  // namespace pprofd::testing
