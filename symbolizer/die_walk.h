// A pre-order walk over the DIEs below one DIE, with an explicit stack instead of recursion and a
// bound on the nesting it enters, in time linear in the DIEs it reads. The target controls its
// DWARF: legal DWARF may nest DIEs hundreds of thousands deep, which a recursive walk pays for
// with its stack (about 30,000 levels exhaust 8 MB) and a walk that asks libdw for each finished
// DIE's sibling pays for with time (dwarf_siblingof re-reads the subtree it steps over, so every
// DIE is read once per ancestor: quadratic in the depth).
#pragma once

#include <elfutils/libdw.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pprofd::symbolizer {

class DieWalk {
 public:
  // Walks the descendants of `root` (not `root` itself): its children are at depth 1, and the
  // children of a DIE at depth `max_depth` are not entered (depth_limited() counts those DIEs).
  DieWalk(const Dwarf_Die& root, size_t max_depth) : root_(root), max_depth_(max_depth) {}

  // Moves to the next DIE in DWARF order: into the current DIE's children when Descend() was
  // called for it, else to its sibling or the next DIE of an enclosing level. False at the end,
  // and when libdw reports malformed DWARF (then malformed() is true).
  bool Next();
  // Asks the next Next() to enter the children of the current DIE.
  void Descend() { descend_ = true; }

  Dwarf_Die* die() { return &path_.back(); }
  size_t depth() const { return path_.size(); }
  // DIEs with children that Descend() asked for and the depth bound refused.
  uint64_t depth_limited() const { return depth_limited_; }
  bool malformed() const { return malformed_; }

 private:
  // Moves past the current DIE's subtree.
  bool Advance();
  // After the sibling list of the DIE at path_.back() + 1 level ended at the null entry `end`:
  // the next DIE of path_.back()'s own list (0), or 1 with next->addr at the null entry ending
  // that list too, or -1 on error.
  int NextAfterChildren(void* end, Dwarf_Die* next);
  void Stop(bool malformed);

  Dwarf_Die root_;
  size_t max_depth_;
  bool started_ = false;
  bool descend_ = false;
  bool malformed_ = false;
  uint64_t depth_limited_ = 0;
  std::vector<Dwarf_Die> path_;  // path_[i] is the current DIE at depth i + 1
};

// Inline so the walk needs no build change of its own; small enough to read here.

inline bool DieWalk::Next() {
  if (!started_) {
    started_ = true;
    if (max_depth_ == 0) {
      if (dwarf_haschildren(&root_) > 0) ++depth_limited_;
      return false;
    }
    Dwarf_Die child;
    int result = dwarf_child(&root_, &child);
    if (result < 0) Stop(/*malformed=*/true);
    if (result != 0) return false;
    path_.push_back(child);
    return true;
  }
  if (path_.empty()) return false;
  if (descend_) {
    descend_ = false;
    if (dwarf_haschildren(die()) > 0) {
      if (path_.size() >= max_depth_) {
        ++depth_limited_;
      } else {
        Dwarf_Die child;
        int result = dwarf_child(die(), &child);
        if (result < 0) {
          Stop(/*malformed=*/true);
          return false;
        }
        if (result == 0) {
          path_.push_back(child);
          return true;
        }
        // An empty child list (a lone null entry): step over it as over any subtree.
      }
    }
  }
  return Advance();
}

inline bool DieWalk::Advance() {
  Dwarf_Die next;
  next.addr = nullptr;
  // Skips the current DIE's subtree: linear in its size, and a subtree is stepped over only when
  // the walk did not enter it.
  int result = dwarf_siblingof(die(), &next);
  while (result == 1) {
    // The current list ended: the walk of the enclosing DIE's children is complete.
    path_.pop_back();
    if (path_.empty()) return false;
    result = NextAfterChildren(next.addr, &next);
  }
  if (result < 0) {
    Stop(/*malformed=*/true);
    return false;
  }
  path_.back() = next;
  return true;
}

// dwarf_siblingof() of the enclosing DIE would find its sibling by reading its whole subtree
// again. The walk has just read that subtree, and libdw says where it ended: when no sibling is
// left it sets next->addr to the list's null entry (documented in libdw.h). DIEs are stored in
// pre-order, so the enclosing DIE's next sibling, or the null entry ending its own list, follows.
inline int DieWalk::NextAfterChildren(void* end, Dwarf_Die* next) {
  Dwarf_Die& current = path_.back();
  if (end == nullptr) {
    // The unit ended without null entries: every enclosing list ends there too.
    next->addr = nullptr;
    return 1;
  }
  auto* after = static_cast<unsigned char*>(end) + 1;
  Dwarf_Die candidate;
  // dwarf_die_addr_die() finds the unit holding `after`: the byte is inside the same unit.
  if (dwarf_die_addr_die(dwarf_cu_getdwarf(current.cu), after, &candidate) != nullptr &&
      candidate.cu == current.cu) {
    if (*after == 0) {
      next->addr = after;
      return 1;
    }
    *next = candidate;
    return 0;
  }
  // Not where this libdw left it: ask for the sibling the slow, exact way.
  next->addr = nullptr;
  return dwarf_siblingof(&current, next);
}

inline void DieWalk::Stop(bool malformed) {
  malformed_ = malformed_ || malformed;
  path_.clear();
}

}  // namespace pprofd::symbolizer
