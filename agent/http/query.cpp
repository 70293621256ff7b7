#include "agent/http/query.h"

#include <charconv>

#include "base/log.h"

namespace pprofd::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A client's value quoted in an error: one line, bounded.
std::string Printable(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace

void QueryParams::Add(std::string name, std::string value) {
  params_.emplace_back(std::move(name), std::move(value));
}

const std::string* QueryParams::Get(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return &value;
  }
  return nullptr;
}

StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::Error(
            StrCat("invalid escape '", text.substr(i, 3), "': want % followed by two hex digits"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

StatusOr<QueryParams> ParseQuery(std::string_view raw_query) {
  QueryParams params;
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    const std::string_view piece = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    const std::string_view raw_name = piece.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    StatusOr<std::string> name = PercentDecode(raw_name, /*plus_is_space=*/true);
    if (!name.ok()) return Status::Error(StrCat("bad query: ", name.status().message()));
    StatusOr<std::string> value = PercentDecode(raw_value, /*plus_is_space=*/true);
    if (!value.ok()) return Status::Error(StrCat("bad query: ", value.status().message()));
    params.Add(std::move(*name), std::move(*value));
  }
  return params;
}

StatusOr<int> IntParam(const QueryParams& query, std::string_view name, int default_value,
                       int min_value, int max_value) {
  const std::string* text = query.Get(name);
  if (text == nullptr) return default_value;
  // Go's strconv.ParseInt accepts a leading '+'; from_chars does not.
  std::string_view digits = *text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  long long value = 0;
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
      value < min_value || value > max_value) {
    return Status::Error(StrCat("bad ", name, "=", Printable(*text), ": want an integer from ",
                                min_value, " to ", max_value));
  }
  return static_cast<int>(value);
}

StatusOr<RequestTarget> ParseRequestTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return Status::Error(StrCat("bad request target '", target, "': want a path starting with /"));
  }
  // A fragment is never sent by conforming clients; drop it rather than treat it as data.
  target = target.substr(0, target.find('#'));
  const size_t question = target.find('?');
  RequestTarget result;
  StatusOr<std::string> path = PercentDecode(target.substr(0, question), /*plus_is_space=*/false);
  if (!path.ok()) return Status::Error(StrCat("bad path: ", path.status().message()));
  result.path = std::move(*path);
  if (question != std::string_view::npos) {
    result.raw_query = std::string(target.substr(question + 1));
    StatusOr<QueryParams> query = ParseQuery(result.raw_query);
    if (!query.ok()) return query.status();
    result.query = std::move(*query);
  }
  return result;
}

}  // namespace pprofd::http
