#include "symbolizer/debug_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"

namespace pprofd::symbolizer {
namespace {

constexpr std::string_view kDebugRoot = "/usr/lib/debug";

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

std::optional<uint32_t> FileCrc32(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::vector<char> buffer(1 << 16);
  uint32_t crc = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    crc = DebugLinkCrc32(crc, buffer.data(), static_cast<size_t>(n));
  }
  return crc;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa;
  struct stat sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string BuildIdPath(const std::string& root, const std::string& build_id) {
  return root + std::string(kDebugRoot) + "/.build-id/" + build_id.substr(0, 2) + "/" +
         build_id.substr(2) + ".debug";
}

// The build-id path, accepted when the file there carries the same build-id.
std::optional<DebugFile> TryBuildIdPathUnder(const std::string& root, const std::string& build_id) {
  if (build_id.size() < 4) return std::nullopt;
  std::string candidate = BuildIdPath(root, build_id);
  if (::access(candidate.c_str(), R_OK) != 0) return std::nullopt;
  auto opened = OpenElf(candidate);
  if (!opened.ok()) return std::nullopt;
  if (ReadBuildId(opened->elf.get()) != build_id) {
    LogWarning(StrCat(candidate, ": build-id differs from its name; ignored"));
    return std::nullopt;
  }
  return DebugFile{candidate, std::move(opened).value()};
}

// Under the target's root first, then under the agent's own: a container image rarely carries
// debug files, while the host may have them for the same build (the build-id names the exact
// build, so a file found there cannot belong to another one).
std::optional<DebugFile> TryBuildIdPath(const std::string& root, const std::string& build_id) {
  if (auto found = TryBuildIdPathUnder(root, build_id)) return found;
  if (root.empty()) return std::nullopt;
  return TryBuildIdPathUnder("", build_id);
}

struct DebugLink {
  std::string name;
  uint32_t crc = 0;
};

std::optional<DebugLink> ReadDebugLink(Elf* elf) {
  Elf_Scn* scn = FindSection(elf, ".gnu_debuglink");
  if (scn == nullptr) return std::nullopt;
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr || data->d_size < 8) return std::nullopt;
  const char* bytes = static_cast<const char*>(data->d_buf);
  size_t name_len = strnlen(bytes, data->d_size);
  if (name_len == 0 || name_len == data->d_size) return std::nullopt;
  // The name is NUL-terminated and padded to 4 bytes; the CRC follows.
  size_t crc_offset = (name_len + 1 + 3) & ~size_t{3};
  if (crc_offset + 4 > data->d_size) return std::nullopt;
  DebugLink link;
  link.name.assign(bytes, name_len);
  std::memcpy(&link.crc, bytes + crc_offset, 4);  // the target's byte order; we run on x86
  return link;
}

std::optional<DebugFile> TryDebugLink(const std::string& path, const std::string& root, Elf* elf,
                                      const std::string& build_id) {
  std::optional<DebugLink> link = ReadDebugLink(elf);
  if (!link) return std::nullopt;
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string dir_in_root = dir;
  if (!root.empty() && dir.compare(0, root.size(), root) == 0)
    dir_in_root = dir.substr(root.size());
  if (dir_in_root.empty() || dir_in_root[0] != '/') dir_in_root.insert(0, "/");

  const std::string candidates[] = {
      dir + "/" + link->name,
      dir + "/.debug/" + link->name,
      root + std::string(kDebugRoot) + dir_in_root + "/" + link->name,
  };
  for (const std::string& candidate : candidates) {
    if (::access(candidate.c_str(), R_OK) != 0 || SameFile(candidate, path)) continue;
    std::optional<uint32_t> crc = FileCrc32(candidate);
    if (!crc || *crc != link->crc) {
      LogDebug(StrCat(candidate, ": CRC does not match .gnu_debuglink of ", path, "; ignored"));
      continue;
    }
    auto opened = OpenElf(candidate);
    if (!opened.ok()) continue;
    if (!build_id.empty()) {
      std::string debug_build_id = ReadBuildId(opened->elf.get());
      if (!debug_build_id.empty() && debug_build_id != build_id) continue;
    }
    return DebugFile{candidate, std::move(opened).value()};
  }
  return std::nullopt;
}

}  // namespace

uint32_t DebugLinkCrc32(uint32_t crc, const void* data, size_t size) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  const auto* bytes = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kTable[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::optional<DebugFile> FindDebugFile(const std::string& path, const std::string& root, Elf* elf,
                                       const std::string& build_id) {
  if (auto found = TryBuildIdPath(root, build_id)) return found;
  return TryDebugLink(path, root, elf, build_id);
}

std::optional<DebugFile> FindAltDebugFile(const std::string& root, Elf* debug_elf) {
  Elf_Scn* scn = FindSection(debug_elf, ".gnu_debugaltlink");
  if (scn == nullptr) return std::nullopt;
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return std::nullopt;
  // Contents: the alt file's path, NUL, then its build-id bytes.
  const char* bytes = static_cast<const char*>(data->d_buf);
  size_t name_len = strnlen(bytes, data->d_size);
  if (name_len + 1 >= data->d_size) return std::nullopt;
  std::string alt_build_id = HexEncode(reinterpret_cast<const uint8_t*>(bytes + name_len + 1),
                                       data->d_size - name_len - 1);
  if (auto found = TryBuildIdPath(root, alt_build_id)) return found;
  // dwz writes an absolute path (/usr/lib/debug/.dwz/...); look it up under the root too.
  std::string named(bytes, name_len);
  if (named.empty() || named[0] != '/') return std::nullopt;
  std::string candidate = root + named;
  auto opened = OpenElf(candidate);
  if (!opened.ok() || ReadBuildId(opened->elf.get()) != alt_build_id) return std::nullopt;
  return DebugFile{candidate, std::move(opened).value()};
}

}  // namespace pprofd::symbolizer
