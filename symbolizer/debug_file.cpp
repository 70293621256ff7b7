#include "symbolizer/debug_file.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "base/open_in_root.h"
#include "symbolizer/mapped_file.h"

namespace pprofd::symbolizer {
namespace {

// Where debug files live, relative to a root.
constexpr std::string_view kDebugDir = "/usr/lib/debug";
constexpr size_t kCrcChunk = 1 << 20;

// The target's bytes made safe for a log line: control bytes and non-ASCII as \xNN (a newline
// could forge a line), cut at `max` bytes.
std::string Printable(std::string_view text, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

// One root the lookups are confined to: the target's ("/proc/PID/root") or the agent's own ("").
struct Root {
  std::string name;  // as given; prefixes paths in messages
  ScopedFd fd;

  static std::optional<Root> Open(const std::string& root) {
    auto fd = OpenRootDirectory(root);
    if (!fd.ok()) {
      LogDebug(StrCat("debug files: ", fd.status().message()));
      return std::nullopt;
    }
    return Root{root, std::move(fd).value()};
  }
  // For messages: the target's part of the path made printable.
  std::string Describe(const std::string& path_in_root) const {
    return name + Printable(path_in_root, 4096);
  }
};

// The candidate at `path_in_root` as an ELF object, if it is a regular file.
std::optional<DebugFile> OpenCandidate(const Root& root, const std::string& path_in_root,
                                       RegularFile* file_out = nullptr) {
  auto file = OpenRegularFileInRoot(root.fd.get(), path_in_root);
  if (!file.ok()) {
    // Missing files are the usual case; anything else (a FIFO, a device, a link out of the root)
    // is worth a line when the debug log is on.
    LogDebug(StrCat("debug file candidate under ", root.name, ": ",
                    Printable(file.status().message(), 8192)));
    return std::nullopt;
  }
  const std::string shown = root.Describe(path_in_root);
  if (file_out != nullptr) {
    file_out->size = file->size;
    file_out->device = file->device;
    file_out->inode = file->inode;
  }
  auto opened = OpenElfFromFile(std::move(file).value(), shown);
  if (!opened.ok()) {
    LogDebug(opened.status().message());
    return std::nullopt;
  }
  return DebugFile{shown, std::move(opened).value()};
}

bool IsHexBuildId(const std::string& build_id) {
  return build_id.size() >= 4 && std::all_of(build_id.begin(), build_id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// <root>/usr/lib/debug/.build-id/xx/yyyy.debug, accepted when the file there carries the same
// build-id. The name is our own hex encoding, never the target's text.
std::optional<DebugFile> TryBuildIdPathUnder(const std::string& root_name,
                                             const std::string& build_id) {
  if (!IsHexBuildId(build_id)) return std::nullopt;
  std::optional<Root> root = Root::Open(root_name);
  if (!root) return std::nullopt;
  const std::string path =
      StrCat(kDebugDir, "/.build-id/", build_id.substr(0, 2), "/", build_id.substr(2), ".debug");
  std::optional<DebugFile> found = OpenCandidate(*root, path);
  if (!found) return std::nullopt;
  if (ReadBuildId(found->opened.elf.get()) != build_id) {
    LogWarning(StrCat(found->path, ": build-id differs from its name; ignored"));
    return std::nullopt;
  }
  return found;
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

std::string ReadLink(const std::string& path) {
  char buffer[4096];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return {};
  return std::string(buffer, static_cast<size_t>(n));
}

// The directory holding the object, as the target names it ("/usr/bin"), from the path the agent
// opened the object by: "<root>/usr/bin/app", "/proc/PID/map_files/START-END" (whose link text
// is the maps path) or the maps path itself.
std::string DirectoryInRoot(const std::string& path, const std::string& root) {
  std::string in_root;
  if (root.empty()) {
    in_root = path;
  } else if (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/') {
    in_root = path.substr(root.size());
  } else {
    std::string named = path;
    if (path.starts_with("/proc/") && path.find("/map_files/") != std::string::npos) {
      named = ReadLink(path);
      StripDeletedSuffix(&named);
    }
    std::string root_link = ReadLink(root);
    in_root = PathInTargetRoot(named, root_link.empty() ? "/" : root_link);
  }
  size_t slash = in_root.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return in_root.substr(0, slash);
}

// A link name must be a plain file name, as gdb requires: a '/' or a ".." would let the object
// name any file of the tree (gdb and elfutils look only in the object's directory and the
// debug directories).
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// CRC32 of the first `size` bytes of `fd`, read in chunks; nullopt when the file ends early.
std::optional<uint32_t> FileCrc32(int fd, uint64_t size) {
  std::vector<char> buffer(kCrcChunk);
  uint32_t crc = 0;
  uint64_t done = 0;
  while (done < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - done));
    ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    crc = DebugLinkCrc32(crc, buffer.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  return crc;
}

// Whether `candidate` is the debug file `link` names for an object with `build_id`. Like
// elfutils (libdwfl's find-debuginfo), an object with a build-id is matched by build-id alone: it
// names the build as exactly as the CRC does, and reading it costs nothing, while the CRC reads
// the whole file. Only an object without a build-id pays for the CRC, and only up to
// kMaxDebugLinkCrcBytes.
bool MatchesLink(const DebugFile& candidate, const RegularFile& file, const DebugLink& link,
                 const std::string& build_id) {
  if (!build_id.empty()) {
    if (ReadBuildId(candidate.opened.elf.get()) == build_id) return true;
    LogDebug(StrCat(candidate.path, ": build-id differs from the object's; ignored"));
    return false;
  }
  if (file.size > kMaxDebugLinkCrcBytes) {
    LogWarning(StrCat(candidate.path, ": ", file.size, " bytes, more than the ",
                      kMaxDebugLinkCrcBytes >> 20,
                      " MiB pprofd reads to check a .gnu_debuglink CRC; ignored (give the object "
                      "a build-id, ld --build-id, to have it matched without reading)"));
    return false;
  }
  std::optional<uint32_t> crc = FileCrc32(candidate.opened.fd.get(), file.size);
  if (crc && *crc == link.crc) return true;
  LogDebug(StrCat(candidate.path, ": CRC does not match the .gnu_debuglink; ignored"));
  return false;
}

std::optional<DebugFile> TryDebugLink(const std::string& path, const std::string& root_name,
                                      Elf* elf, const std::string& build_id) {
  std::optional<DebugLink> link = ReadDebugLink(elf);
  if (!link) return std::nullopt;
  if (!IsPlainFileName(link->name)) {
    LogWarning(StrCat(path, ": .gnu_debuglink names \"", Printable(link->name),
                      "\", not a plain file name as gdb requires; no debug file for it"));
    return std::nullopt;
  }
  std::optional<Root> root = Root::Open(root_name);
  if (!root) return std::nullopt;
  struct stat object;
  const bool have_object = ::stat(path.c_str(), &object) == 0;

  std::string dir = DirectoryInRoot(path, root_name);
  if (dir == "/") dir.clear();
  const std::string candidates[] = {
      dir + "/" + link->name,
      dir + "/.debug/" + link->name,
      StrCat(kDebugDir, dir, "/", link->name),
  };
  for (const std::string& candidate : candidates) {
    RegularFile file;
    std::optional<DebugFile> found = OpenCandidate(*root, candidate, &file);
    if (!found) continue;
    if (have_object && file.device == object.st_dev && file.inode == object.st_ino) continue;
    if (MatchesLink(*found, file, *link, build_id)) return found;
  }
  return std::nullopt;
}

}  // namespace

uint32_t DebugLinkCrc32(uint32_t crc, const void* data, size_t size) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

std::optional<DebugFile> FindDebugFile(const std::string& path, const std::string& root, Elf* elf,
                                       const std::string& build_id) {
  if (auto found = TryBuildIdPath(root, build_id)) return found;
  return TryDebugLink(path, root, elf, build_id);
}

std::optional<DebugFile> FindAltDebugFile(const std::string& root_name, Elf* debug_elf) {
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
  if (auto found = TryBuildIdPath(root_name, alt_build_id)) return found;
  // dwz writes an absolute path (/usr/lib/debug/.dwz/...): look it up under the root, where
  // neither ".." nor a symlink can lead out of it.
  std::string named(bytes, name_len);
  if (named.empty() || named[0] != '/') return std::nullopt;
  std::optional<Root> root = Root::Open(root_name);
  if (!root) return std::nullopt;
  std::optional<DebugFile> found = OpenCandidate(*root, named);
  if (!found || ReadBuildId(found->opened.elf.get()) != alt_build_id) return std::nullopt;
  return found;
}

}  // namespace pprofd::symbolizer
