#include "agent/kinds/heap/allocator/link_order.h"

#include <deque>

namespace pprofd::heap {
namespace {

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<std::string> SplitPreloadList(std::string_view text) {
  std::vector<std::string> entries;
  std::string current;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == ':') {
      if (!current.empty()) entries.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) entries.push_back(std::move(current));
  return entries;
}

std::string EnvironValue(std::string_view environ, std::string_view name) {
  size_t begin = 0;
  while (begin < environ.size()) {
    size_t end = environ.find('\0', begin);
    if (end == std::string_view::npos) end = environ.size();
    std::string_view entry = environ.substr(begin, end - begin);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
        entry[name.size()] == '=') {
      return std::string(entry.substr(name.size() + 1));
    }
    begin = end + 1;
  }
  return {};
}

size_t FindModuleByName(const std::vector<LinkedModule>& modules, std::string_view name) {
  if (name.empty()) return std::string_view::npos;
  const bool is_path = name.find('/') != std::string_view::npos;
  for (size_t i = 0; i < modules.size(); ++i) {
    if (is_path ? modules[i].path == name
                : (modules[i].soname == name || BaseName(modules[i].path) == name)) {
      return i;
    }
  }
  // A path given through a symlink (/lib/x.so.1 -> /usr/lib/x.so.1.2.3): the soname still tells.
  if (is_path) {
    const std::string_view base = BaseName(name);
    for (size_t i = 0; i < modules.size(); ++i) {
      if (modules[i].soname == base || BaseName(modules[i].path) == base) return i;
    }
  }
  return std::string_view::npos;
}

std::vector<size_t> GlobalSearchOrder(const std::vector<LinkedModule>& modules, size_t executable,
                                      const std::vector<size_t>& preloaded) {
  std::vector<size_t> order;
  std::vector<bool> seen(modules.size(), false);
  std::deque<size_t> queue;
  auto visit = [&](size_t index) {
    if (index >= modules.size() || seen[index]) return;
    seen[index] = true;
    order.push_back(index);
    queue.push_back(index);
  };
  visit(executable);
  for (size_t index : preloaded) visit(index);
  while (!queue.empty()) {
    const size_t index = queue.front();
    queue.pop_front();
    for (const std::string& needed : modules[index].needed) {
      visit(FindModuleByName(modules, needed));
    }
  }
  for (size_t i = modules.size(); i-- > 0;) {
    if (!seen[i]) order.push_back(i);
  }
  return order;
}

}  // namespace pprofd::heap
