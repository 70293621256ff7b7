// A minimal root file system for one dynamically linked binary, for the tests that run a target
// chrooted (or in a private mount namespace) where its files exist only under that root.
#pragma once

#include <filesystem>
#include <string>

namespace pprofd::e2e {

// Copies `binary` to `root`/bin/workload and each library `ldd` lists to the same path under
// `root` (the file itself, not a symlink: the root has nothing a link could point to). False,
// with the reason and ldd's output in *error, when ldd fails or lists fewer than three libraries
// (libc, the dynamic linker and libstdc++ at least).
bool BuildRootfs(const std::filesystem::path& root, const std::string& binary, std::string* error);

}  // namespace pprofd::e2e
