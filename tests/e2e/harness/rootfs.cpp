#include "tests/e2e/harness/rootfs.h"

#include <regex>

#include "tests/e2e/harness/agent_harness.h"
#include "tests/e2e/harness/subprocess.h"

namespace pprofd::e2e {

namespace fs = std::filesystem;

bool BuildRootfs(const fs::path& root, const std::string& binary, std::string* error) {
  fs::create_directories(root / "bin");
  fs::copy_file(binary, root / "bin/workload");
  CommandResult ldd = RunCommand({"ldd", binary});
  if (ldd.exit_code != 0) {
    *error = "ldd " + binary + " exited " + std::to_string(ldd.exit_code) + ": " + ldd.err;
    return false;
  }
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2
  // (0x...)"
  static const std::regex kLibrary(R"((/[^ \t]+) \(0x[0-9a-f]+\))");
  int copied = 0;
  for (const std::string& line : Lines(ldd.out)) {
    std::smatch match;
    if (!std::regex_search(line, match, kLibrary)) continue;
    const fs::path library = match[1].str();
    fs::create_directories(root / library.relative_path().parent_path());
    fs::copy_file(fs::canonical(library), root / library.relative_path());
    ++copied;
  }
  if (copied < 3) {
    *error = "ldd listed " + std::to_string(copied) + " libraries, want at least 3: " + ldd.out;
    return false;
  }
  return true;
}

}  // namespace pprofd::e2e
