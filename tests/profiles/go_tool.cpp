#include "tests/profiles/go_tool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
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

}  // namespace pprofd::testing
