// Values (stacks, threads) stored once and named by a small id, with a reference count so that a
// value nothing uses any more is freed and its id reused. The index maps a hash to ids rather
// than holding a second copy of each value as a key (a stack is its biggest part).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pprofd::kinds::cpu {

template <typename T, typename Hash>
class InternedTable {
 public:
  std::optional<uint32_t> Find(const T& value) const {
    auto [begin, end] = index_.equal_range(Hash()(value));
    for (auto it = begin; it != end; ++it) {
      if (values_[it->second] == value) return it->second;
    }
    return std::nullopt;
  }

  // Stores `value` (not yet referenced) and returns its id.
  uint32_t Insert(T value) {
    const size_t hash = Hash()(value);
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
      values_[id] = std::move(value);
      refs_[id] = 0;
    } else {
      id = static_cast<uint32_t>(values_.size());
      values_.push_back(std::move(value));
      refs_.push_back(0);
    }
    index_.emplace(hash, id);
    ++live_;
    return id;
  }

  void Ref(uint32_t id) { ++refs_[id]; }
  // True when that was the last reference: the caller may then Erase(id).
  bool Unref(uint32_t id) { return --refs_[id] == 0; }
  void Erase(uint32_t id) {
    auto [begin, end] = index_.equal_range(Hash()(values_[id]));
    for (auto it = begin; it != end; ++it) {
      if (it->second == id) {
        index_.erase(it);
        break;
      }
    }
    values_[id] = T();
    free_.push_back(id);
    --live_;
  }

  // What the next Insert adds to ArrayBytes at most: the arrays may double (libstdc++ grows them
  // so), the index may rehash to about twice its buckets, and one index entry.
  size_t InsertGrowthBytes(size_t hash_entry_bytes) const {
    size_t bytes = hash_entry_bytes;
    if (free_.empty() && values_.size() == values_.capacity()) {
      const size_t grow = values_.capacity() == 0 ? 1 : values_.capacity();
      bytes += grow * (sizeof(T) + sizeof(uint32_t));
    }
    if (static_cast<float>(index_.size() + 1) >
        index_.max_load_factor() * static_cast<float>(index_.bucket_count())) {
      bytes += (2 * index_.bucket_count() + 16) * sizeof(void*);
    }
    return bytes;
  }

  const T& value(uint32_t id) const { return values_[id]; }
  uint32_t refs(uint32_t id) const { return refs_[id]; }
  size_t size() const { return live_; }
  // Bytes of the table's own arrays (the values' heap parts are the caller's to count).
  size_t ArrayBytes(size_t hash_entry_bytes) const {
    return values_.capacity() * sizeof(T) + refs_.capacity() * sizeof(uint32_t) +
           free_.capacity() * sizeof(uint32_t) + index_.size() * hash_entry_bytes +
           index_.bucket_count() * sizeof(void*);
  }

 private:
  std::vector<T> values_;
  std::vector<uint32_t> refs_;
  std::vector<uint32_t> free_;
  std::unordered_multimap<size_t, uint32_t> index_;
  size_t live_ = 0;
};

}  // namespace pprofd::kinds::cpu
