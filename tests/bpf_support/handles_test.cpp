// The owners release what they hold: every fd a loaded skeleton, its ring buffer reader and its
// links opened is closed once they are destroyed (read from /proc/self/fd).
#include <dirent.h>
#include <fcntl.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <set>
#include <string>

#include "agent/bpf_support/link.h"
#include "agent/bpf_support/open_options.h"
#include "agent/bpf_support/ring_reader.h"
#include "agent/bpf_support/skeleton.h"
#include "agent/sampling/perf_event.h"
#include "cpu_sampler.skel.h"

namespace pprofd::bpf_support {
namespace {

std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::stoi(entry->d_name);
    if (fd != own) fds.insert(fd);
  }
  closedir(dir);
  return fds;
}

std::string Target(int fd) {
  char target[256];
  const ssize_t n =
      readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof(target) - 1);
  return n < 0 ? std::string() : std::string(target, n);
}

TEST_CASE("Destroyed skeleton, ring reader and links close every fd they opened", "[libbpf][bpf]") {
  const std::set<int> before = OpenFds();
  std::set<int> during;
  {
    auto skeleton = Skeleton<cpu_sampler>::Open("cpu_sampler", "");
    REQUIRE(skeleton.ok());
    REQUIRE(skeleton->Load().ok());
    auto ring = RingReader::Open(bpf_map__fd((*skeleton)->maps.samples), "open ring");
    REQUIRE(ring.ok());
    auto event = sampling::OpenCpuClockEvent(0, 1000000000ull);
    REQUIRE(event.ok());
    auto link = TakeLink(
        bpf_program__attach_perf_event((*skeleton)->progs.sample_cpu, event->get()), "attach");
    REQUIRE(link.ok());
    event->Release();  // the link owns the perf event now
    during = OpenFds();
    // The program, its maps, the ring's epoll fd, the perf event: all fds of this process.
    const int program_fd = bpf_program__fd((*skeleton)->progs.sample_cpu);
    CHECK(during.count(program_fd) == 1);
    CHECK(Target(program_fd) == "anon_inode:bpf-prog");
    CHECK(during.size() >= before.size() + 4);
  }
  const std::set<int> after = OpenFds();
  CHECK(after == before);
}

TEST_CASE("Destroying a link detaches its program and closes the perf event", "[libbpf][bpf]") {
  auto skeleton = Skeleton<cpu_sampler>::Open("cpu_sampler", "");
  REQUIRE(skeleton.ok());
  REQUIRE(skeleton->Load().ok());
  const std::set<int> loaded = OpenFds();
  {
    auto event = sampling::OpenCpuClockEvent(0, 1000000000ull);
    REQUIRE(event.ok());
    const int event_fd = event->get();
    auto link = TakeLink(
        bpf_program__attach_perf_event((*skeleton)->progs.sample_cpu, event->get()), "attach");
    REQUIRE(link.ok());
    event->Release();
    CHECK(Target(event_fd) == "anon_inode:[perf_event]");
  }
  CHECK(OpenFds() == loaded);
}

TEST_CASE("TakeLink turns a failed attach into an error naming it", "[libbpf]") {
  errno = ENOENT;
  auto link = TakeLink(nullptr, "attach thing to place");
  REQUIRE_FALSE(link.ok());
  CHECK(link.status().message() == "attach thing to place: No such file or directory");
}

TEST_CASE("Open options carry the BTF path only when one is given", "[libbpf]") {
  const std::string none;
  OpenOptions defaults(none);
  CHECK(defaults.get()->sz == sizeof(bpf_object_open_opts));
  CHECK(defaults.get()->btf_custom_path == nullptr);
  const std::string path = "/tmp/vmlinux.btf";
  OpenOptions custom(path);
  CHECK(custom.get()->btf_custom_path == path.c_str());
}

TEST_CASE("A skeleton opened with a missing BTF file fails to load naming the program",
          "[libbpf][bpf]") {
  auto skeleton = Skeleton<cpu_sampler>::Open("cpu_sampler", "/nonexistent/vmlinux");
  REQUIRE(skeleton.ok());  // libbpf reads the BTF at load
  Status loaded = skeleton->Load();
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.message().rfind("load BPF program cpu_sampler: ", 0) == 0);
  CHECK(loaded.message().find("libbpf's log at --log-level debug") != std::string::npos);
}

}  // namespace
}  // namespace pprofd::bpf_support
