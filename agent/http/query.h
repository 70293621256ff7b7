// Splitting a request target into its path and query parameters. Pure functions over bytes, so
// they get golden tests; the rules follow Go's net/url (ParseQuery, PathUnescape) where it matters.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pprofd::http {

// Query parameters in the order they appear; a name may repeat.
class QueryParams {
 public:
  void Add(std::string name, std::string value);
  // The first value of `name` (as Go's url.Values.Get), or nullptr when absent.
  const std::string* Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& all() const { return params_; }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

struct RequestTarget {
  std::string path;       // percent-decoded
  std::string raw_query;  // everything after the first '?', as sent (/symbol reads it raw)
  QueryParams query;      // parsed from raw_query
};

// Decodes %XX escapes; with `plus_is_space` (query components) '+' becomes ' '.
// A '%' not followed by two hex digits is an error naming the bad escape.
StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// "a=1&b=x%20y&c" -> {a:1, b:"x y", c:""}. Empty pieces ("a=1&&b=2") are skipped. As in Go 1.17+,
// ';' is not a separator.
StatusOr<QueryParams> ParseQuery(std::string_view raw_query);

// "/debug/pprof/profile?seconds=5" -> path "/debug/pprof/profile", query {seconds:5}.
// Only origin-form targets (starting with '/') are accepted.
StatusOr<RequestTarget> ParseRequestTarget(std::string_view target);

// The integer parameter `name`: `default_value` when absent, else a base-10 integer in
// [min_value, max_value]. The error is the one line the client sees, e.g.
// "bad seconds=abc: want an integer from 1 to 300".
StatusOr<int> IntParam(const QueryParams& query, std::string_view name, int default_value,
                       int min_value, int max_value);

}  // namespace pprofd::http
