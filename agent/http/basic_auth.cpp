#include "agent/http/basic_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/beast/http/field.hpp>
#include <cerrno>
#include <cstring>
#include <map>

#include "agent/http/flag_file.h"
#include "base/log.h"

namespace pprofd::http {

namespace beast_http = boost::beast::http;

namespace {

constexpr std::string_view kFlag = "--basic-auth-file";
constexpr std::string_view kExemptPath = "/healthz";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

// -1 for a character outside the standard base64 alphabet.
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  // Padding is optional (some clients drop it), but only at the end.
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int value = Base64Value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

}  // namespace

StatusOr<BasicAuth> BasicAuth::Parse(std::string_view content) {
  BasicAuth auth;
  std::map<std::string, int, std::less<>> first_line_of_user;
  int line_number = 0;
  while (!content.empty()) {
    ++line_number;
    const size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view trimmed = TrimBlanks(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    // The password is taken as written, blanks included: they may be part of it.
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Status::Error(StrCat("line ", line_number, ": want user:password, found no ':'"));
    }
    const std::string_view user = line.substr(0, colon);
    if (user.empty()) {
      return Status::Error(StrCat("line ", line_number, ": want user:password, the user is empty"));
    }
    if (colon + 1 == line.size()) {
      return Status::Error(StrCat("line ", line_number, ": the password of user '", user,
                                  "' is empty; give every user a password"));
    }
    if (auto [it, inserted] = first_line_of_user.emplace(std::string(user), line_number);
        !inserted) {
      return Status::Error(StrCat("line ", line_number, ": user '", user,
                                  "' appears again (first on line ", it->second,
                                  "); keep one line per user"));
    }
    auth.digests_.push_back(Sha256(line));
  }
  if (auth.digests_.empty()) {
    return Status::Error("no user:password line in it; add one, e.g. pprof:SECRET");
  }
  return auth;
}

StatusOr<BasicAuth> BasicAuth::Load(const std::string& path) {
  StatusOr<std::string> content = ReadFlagFile(kFlag, path);
  if (!content.ok()) return content.status();
  StatusOr<BasicAuth> auth = Parse(*content);
  if (!auth.ok()) return Status::Error(StrCat(kFlag, " ", path, ": ", auth.status().message()));
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
    LogWarning(StrCat(kFlag, " ", path, " is readable by group or others (mode ", mode,
                      "): anyone who can read it can read the profiles; run chmod 600 ", path));
  }
  return auth;
}

BasicAuth::Digest BasicAuth::Sha256(std::string_view bytes) {
  Digest digest{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

bool BasicAuth::Allows(std::string_view authorization) const {
  const std::optional<std::string> credentials = DecodeBasicCredentials(authorization);
  if (!credentials) return false;
  // Hashing gives equal lengths, and every entry is compared: the time reveals neither which
  // user matched nor how much of a password was right.
  const Digest digest = Sha256(*credentials);
  bool match = false;
  for (const Digest& known : digests_) {
    match |= CRYPTO_memcmp(digest.data(), known.data(), digest.size()) == 0;
  }
  OPENSSL_cleanse(const_cast<char*>(credentials->data()), credentials->size());
  return match;
}

std::optional<std::string> DecodeBasicCredentials(std::string_view authorization) {
  authorization = TrimBlanks(authorization);
  constexpr std::string_view kScheme = "basic";
  if (authorization.size() <= kScheme.size() || !IsBlank(authorization[kScheme.size()])) {
    return std::nullopt;
  }
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::optional<std::string> decoded =
      DecodeBase64(TrimBlanks(authorization.substr(kScheme.size())));
  if (!decoded || decoded->find(':') == std::string::npos) return std::nullopt;
  return decoded;
}

RequestHandler RequireBasicAuth(std::shared_ptr<const BasicAuth> auth, RequestHandler inner) {
  return
      [auth = std::move(auth), inner = std::move(inner)](const Request& request, Respond respond) {
        const std::string_view target(request.target().data(), request.target().size());
        if (target.substr(0, target.find('?')) == kExemptPath)
          return inner(request, std::move(respond));
        const auto header = request.find(beast_http::field::authorization);
        if (header != request.end() &&
            auth->Allows(std::string_view(header->value().data(), header->value().size()))) {
          return inner(request, std::move(respond));
        }
        Response response = PprofError(
            beast_http::status::unauthorized,
            header == request.end()
                ? "authentication required: pass a user and password from --basic-auth-file, e.g. "
                  "go tool pprof http://USER:PASSWORD@HOST:PORT/debug/pprof/profile"
                : "wrong user or password: pass one from --basic-auth-file, e.g. go tool pprof "
                  "http://USER:PASSWORD@HOST:PORT/debug/pprof/profile");
        response.set(beast_http::field::www_authenticate, "Basic realm=\"pprofd\"");
        respond(std::move(response));
      };
}

}  // namespace pprofd::http
