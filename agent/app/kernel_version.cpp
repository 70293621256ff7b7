#include "agent/app/kernel_version.h"

#include <sys/utsname.h>

#include <cctype>
#include <charconv>

#include "base/file_util.h"
#include "base/log.h"

namespace pprofd {
namespace {

// Reads "MAJOR.MINOR[.PATCH]" at the start of `text`; the patch defaults to 0 ("6.12-rc1").
bool ParseDotted(std::string_view text, KernelVersion* out) {
  int parts[3] = {0, 0, 0};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  int count = 0;
  while (count < 3) {
    auto [next, ec] = std::from_chars(p, end, parts[count]);
    if (ec != std::errc() || parts[count] < 0) break;
    ++count;
    p = next;
    if (p == end || *p != '.' || count == 3) break;
    ++p;
  }
  if (count < 2 || parts[0] == 0) return false;
  *out = KernelVersion{parts[0], parts[1], parts[2]};
  return true;
}

// The version after the word `marker` in `text` ("... Debian 6.1.119-1 ..."), if any.
bool VersionAfter(std::string_view text, std::string_view marker, KernelVersion* out) {
  for (size_t at = text.find(marker); at != std::string_view::npos;
       at = text.find(marker, at + 1)) {
    const bool word_start = at == 0 || text[at - 1] == ' ';
    const size_t version_at = at + marker.size();
    if (word_start && version_at < text.size() &&
        std::isdigit(static_cast<unsigned char>(text[version_at])) &&
        ParseDotted(text.substr(version_at), out)) {
      return true;
    }
  }
  return false;
}

// Ubuntu: "Ubuntu 5.15.0-91.101-generic 5.15.131": the last word is the upstream version.
bool FromVersionSignature(std::string_view signature, KernelVersion* out) {
  while (!signature.empty() && std::isspace(static_cast<unsigned char>(signature.back()))) {
    signature.remove_suffix(1);
  }
  const size_t space = signature.rfind(' ');
  if (space == std::string_view::npos) return false;
  return ParseDotted(signature.substr(space + 1), out);
}

}  // namespace

std::string KernelVersion::ToString() const { return StrCat(major, ".", minor, ".", patch); }

StatusOr<KernelVersion> UpstreamKernelVersion(const KernelIdentity& identity) {
  KernelVersion version;
  if (FromVersionSignature(identity.version_signature, &version)) return version;
  if (VersionAfter(identity.version, "Debian ", &version)) return version;
  if (ParseDotted(identity.release, &version)) return version;
  return Status::Error(StrCat("cannot read the kernel version from release '", identity.release,
                              "' and version '", identity.version, "'"));
}

bool HasProbeReadFreezeBug(const KernelVersion& v) {
  if (v.major == 5) return v.minor >= 19;
  if (v.major != 6) return false;
  switch (v.minor) {
    case 0:
    case 2:
      return true;  // no stable fix
    case 1:
      return v.patch < 36;  // stable fix 2e7ad879e1b0 in 6.1.36
    case 3:
      return v.patch < 10;  // stable fix 3acb3dd3145b in 6.3.10
    default:
      return false;  // fixed in 6.4
  }
}

KernelIdentity ReadKernelIdentity() {
  KernelIdentity identity;
  utsname name;
  if (::uname(&name) == 0) {
    identity.release = name.release;
    identity.version = name.version;
  }
  if (auto signature = ReadFileToString("/proc/version_signature"); signature.ok()) {
    identity.version_signature = std::move(*signature);
  }
  return identity;
}

Status CheckKernelFreezeBug(const KernelIdentity& identity, bool allowed) {
  auto version = UpstreamKernelVersion(identity);
  if (!version.ok()) {
    LogWarning(StrCat(version.status().message(),
                      ": not checked for the bpf_probe_read_user freeze bug (5.19 to 6.3)"));
    return Status::Ok();
  }
  if (!HasProbeReadFreezeBug(*version)) return Status::Ok();
  const std::string problem =
      StrCat("kernel ", identity.release, " (upstream ", version->ToString(),
             ") has the bpf_probe_read_user bug that can freeze the machine (5.19 to 6.3; fixed "
             "in 6.1.36, 6.3.10 and 6.4)");
  if (allowed) {
    LogWarning(StrCat(problem, ": running anyway (--allow-freeze-prone-kernel)"));
    return Status::Ok();
  }
  return Status::Error(StrCat(problem,
                              ": upgrade the kernel, or pass --allow-freeze-prone-kernel if "
                              "yours carries the fix (\"mm: Fix copy_from_user_nofault()\")"));
}

}  // namespace pprofd
