// HTTP Basic authentication from --basic-auth-file: lines of user:password. go tool pprof sends
// the credentials of a URL like http://user:password@host:6060/debug/pprof/profile.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http/http_types.h"
#include "base/status.h"

namespace pprofd::http {

class BasicAuth {
 public:
  // Parses the file's content (no I/O): one user:password per line, split at the first ':'.
  // Blank lines and lines whose first non-blank character is '#' are ignored. Errors name the
  // line, never its content (it holds a password): "line 3: want user:password, found no ':'".
  static StatusOr<BasicAuth> Parse(std::string_view content);
  // Reads and parses `path`; errors name --basic-auth-file and the file. Logs a warning when
  // group or others may read the file.
  static StatusOr<BasicAuth> Load(const std::string& path);

  // True when the Authorization header value carries one of the file's credentials. Takes the
  // same time whichever credential matches, or none.
  bool Allows(std::string_view authorization) const;
  size_t size() const { return digests_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Sha256(std::string_view bytes);

  // SHA-256 of each "user:password": compared in full, whatever the lengths.
  std::vector<Digest> digests_;
};

// "user:password" from an Authorization value "Basic <base64>"; nullopt when the scheme is not
// Basic or the base64 is malformed.
std::optional<std::string> DecodeBasicCredentials(std::string_view authorization);

// Wraps `inner`: a request without valid credentials gets 401 with WWW-Authenticate. /healthz is
// exempt: liveness probes carry no credentials, and it reveals nothing.
RequestHandler RequireBasicAuth(std::shared_ptr<const BasicAuth> auth, RequestHandler inner);

}  // namespace pprofd::http
