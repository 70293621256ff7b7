// Runs the real Go toolchain from tests: `go tool pprof` on a written profile, or a small Go
// program (to compare with Go's own arithmetic). Everything lives in a private temporary HOME, so
// the tests neither need nor touch the user's Go caches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pprofd::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// The values of every sample in `go tool pprof -raw` output, in the order printed.
std::vector<std::vector<int64_t>> RawSampleValues(const std::string& raw_output);

// Runs `command` through the shell.
CommandResult RunCommand(const std::string& command);

class GoTool {
 public:
  GoTool();
  ~GoTool();
  GoTool(const GoTool&) = delete;
  GoTool& operator=(const GoTool&) = delete;

  // False when `go` is not in PATH or the temporary directory could not be made.
  bool ok() const { return !go_.empty() && !dir_.empty(); }

  // Writes `bytes` to a file named `name` in the temporary directory.
  std::filesystem::path WriteFile(const std::string& name, const std::string& bytes) const;
  // `go tool pprof <flags> <file>`, never re-symbolizing from local binaries.
  CommandResult Pprof(const std::string& flags, const std::filesystem::path& file) const;
  // `go run` of a one-file main package.
  CommandResult RunProgram(const std::string& source) const;
  // `go build -o output` of a one-file main package read from `source_file`.
  CommandResult Build(const std::filesystem::path& source_file,
                      const std::filesystem::path& output) const;

 private:
  std::string Env() const;

  std::string go_;
  std::filesystem::path dir_;
};

}  // namespace pprofd::testing
