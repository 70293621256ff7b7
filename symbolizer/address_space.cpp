#include "symbolizer/address_space.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/file_util.h"
#include "base/log.h"
#include "symbolizer/mapped_file.h"

namespace pprofd::symbolizer {
namespace {

// pread until done; the vdso is a couple of pages, but do not trust one call.
Status ReadFully(int fd, uint64_t address, std::string* out, size_t size) {
  out->resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out->data() + done, size - done, static_cast<off_t>(address + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("pread", errno);
    }
    if (n == 0) return Status::Error("short read");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

AddressSpace::AddressSpace(pid_t pid, ElfCache* cache,
                           std::chrono::milliseconds min_refresh_interval)
    : pid_(pid), cache_(cache), min_refresh_interval_(min_refresh_interval) {}

std::shared_ptr<ElfFile> AddressSpace::OpenVdso(const MapEntry& entry) {
  if (vdso_tried_) return vdso_elf_;
  vdso_tried_ = true;
  const std::string mem_path = StrCat("/proc/", pid_, "/mem");
  ScopedFd mem(::open(mem_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!mem.valid()) {
    LogWarning(ErrnoError("vdso: open " + mem_path, errno).message());
    return nullptr;
  }
  std::string image;
  if (Status s = ReadFully(mem.get(), entry.start, &image, entry.end - entry.start); !s.ok()) {
    LogWarning(StrCat("vdso: read ", mem_path, " at 0x", std::hex, entry.start, ": ", s.message()));
    return nullptr;
  }
  // libdw reads files, so give the image one: a memfd, kept open as long as this AddressSpace.
  ScopedFd memfd(::memfd_create("pprofd-vdso", MFD_CLOEXEC));
  if (!memfd.valid()) {
    LogWarning(ErrnoError("vdso: memfd_create", errno).message());
    return nullptr;
  }
  if (::write(memfd.get(), image.data(), image.size()) != static_cast<ssize_t>(image.size())) {
    LogWarning(ErrnoError("vdso: write memfd", errno).message());
    return nullptr;
  }
  auto elf = ElfFile::Open(StrCat("/proc/self/fd/", memfd.get()), "");
  if (!elf.ok()) {
    LogWarning(StrCat("vdso of pid ", pid_, ": ", elf.status().message()));
    return nullptr;
  }
  vdso_fd_ = std::move(memfd);
  vdso_elf_ = std::move(elf).value();
  return vdso_elf_;
}

void AddressSpace::ReportUnreachable(const MapEntry& entry) {
  if (!unreachable_reported_.insert(entry.path).second) return;
  LogWarning(StrCat("pid ", pid_, ": cannot reach the file it maps as ", entry.path, " (inode ",
                    entry.inode,
                    "): its frames are shown as module+offset. For a target in "
                    "another mount namespace or chroot, give pprofd CAP_CHECKPOINT_RESTORE so it "
                    "can open /proc/PID/map_files"));
}

Status AddressSpace::Refresh() {
  last_refresh_ = std::chrono::steady_clock::now();
  const std::string proc = StrCat("/proc/", pid_);
  auto text = ReadFileToString(proc + "/maps");
  if (!text.ok()) return text.status();
  auto entries = ParseProcMaps(*text);
  if (!entries.ok()) return Status::Error(StrCat(proc, "/maps: ", entries.status().message()));

  char exe[4096];
  ssize_t n = ::readlink((proc + "/exe").c_str(), exe, sizeof(exe) - 1);
  if (n > 0) main_executable_.assign(exe, static_cast<size_t>(n));

  // Debug files are looked up under the target's root; the files themselves are found by
  // LocateMappedFile, which checks that what it opens is what the target maps.
  const std::string root = proc + "/root";
  const std::string root_link = TargetRootLink(pid_);
  std::vector<Mapping> mappings;
  for (MapEntry& entry : *entries) {
    if (!entry.executable) continue;
    Mapping mapping;
    std::shared_ptr<ElfFile> elf;
    if (entry.path == "[vdso]") {
      elf = OpenVdso(entry);
    } else if (std::optional<MappedFile> file = LocateMappedFile(pid_, entry, root_link)) {
      const uint64_t refusals = cache_->refusals();
      auto opened = cache_->Get(file->open_path, root);
      if (opened.ok()) {
        elf = *opened;
      } else if (cache_->refusals() != refusals && !limit_reported_) {
        limit_reported_ = true;
        LogWarning(StrCat("pid ", pid_, ": ", opened.status().message(),
                          ". Frames in such files are shown as module+offset"));
      }
    } else if (!entry.path.empty() && entry.path[0] == '/') {
      ReportUnreachable(entry);
    }
    if (elf) {
      // The vdso's file offsets are offsets in the image we copied, which starts at entry.start.
      std::optional<uint64_t> vaddr = elf->ExecutableOffsetToVaddr(entry.file_offset);
      if (vaddr) {
        mapping.elf = std::move(elf);
        mapping.vaddr_at_start = *vaddr;
      }
    }
    mapping.entry = std::move(entry);
    mappings.push_back(std::move(mapping));
  }
  std::sort(mappings.begin(), mappings.end(),
            [](const Mapping& a, const Mapping& b) { return a.entry.start < b.entry.start; });
  mappings_ = std::move(mappings);
  // Files of mappings that went away are idle now: the cache keeps only the most recently used.
  cache_->ReleaseIdle();
  return Status::Ok();
}

const Mapping* AddressSpace::Search(uint64_t address) const {
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), address,
                             [](uint64_t addr, const Mapping& m) { return addr < m.entry.start; });
  if (it == mappings_.begin()) return nullptr;
  --it;
  return address < it->entry.end ? &*it : nullptr;
}

const Mapping* AddressSpace::Find(uint64_t address) {
  if (const Mapping* m = Search(address)) return m;
  auto now = std::chrono::steady_clock::now();
  if (last_refresh_ != std::chrono::steady_clock::time_point{} &&
      now - last_refresh_ < min_refresh_interval_) {
    return nullptr;
  }
  if (Status s = Refresh(); !s.ok()) {
    LogWarning(s.message());
    return nullptr;
  }
  return Search(address);
}

}  // namespace pprofd::symbolizer
