#include "tests/support/bpf_links.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace pprofd::testing {

int CountBpfLinkFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fdinfo");
  if (dir == nullptr) {
    std::fprintf(stderr, "test support: opendir /proc/self/fdinfo failed\n");
    std::abort();
  }
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream info(std::string("/proc/self/fdinfo/") + entry->d_name);
    std::string line;
    while (std::getline(info, line)) {
      if (line.rfind("link_type:", 0) == 0) {
        ++count;
        break;
      }
    }
  }
  closedir(dir);
  return count;
}

}  // namespace pprofd::testing
