#include "symbolizer/unwinder.h"

#include <string_view>
#include <unordered_map>
#include <vector>

#include "symbolizer/dwarf_expr.h"
#include "symbolizer/frame_rule.h"

namespace pprofd::symbolizer {
namespace {

// Rules of ~64k distinct pcs; past that the cache starts over (a profile touches far fewer).
constexpr size_t kMaxCachedRules = 1 << 16;

enum class StepStatus { kOk, kOutOfStack, kUnsupported, kComplete };

StepStatus FromExpr(ExprStatus status) {
  return status == ExprStatus::kOutOfStack ? StepStatus::kOutOfStack : StepStatus::kUnsupported;
}

StepStatus EvalCfa(const FrameRule& rule, const KnownRegisters& regs, const StackMemory& memory,
                   uint64_t* cfa) {
  const ValueRule& r = rule.cfa;
  if (r.kind == RuleKind::kRegOffset) {
    uint64_t base = 0;
    if (!RegisterValue(regs, r.reg, &base)) return StepStatus::kUnsupported;
    *cfa = base + static_cast<uint64_t>(r.offset);
    return StepStatus::kOk;
  }
  if (r.kind != RuleKind::kValExpression) return StepStatus::kUnsupported;
  ExprStatus s = EvaluateDwarfExpr(std::span(rule.exprs).subspan(r.expr_begin, r.expr_size), regs,
                                   nullptr, memory, cfa);
  return s == ExprStatus::kOk ? StepStatus::kOk : FromExpr(s);
}

// The caller's value of one register. kComplete means the rule says "undefined".
StepStatus EvalRegister(const FrameRule& rule, const ValueRule& r, uint64_t current,
                        const KnownRegisters& regs, uint64_t cfa, const StackMemory& memory,
                        uint64_t* value) {
  switch (r.kind) {
    case RuleKind::kUndefined:
      return StepStatus::kComplete;
    case RuleKind::kSameValue:
      *value = current;
      return StepStatus::kOk;
    case RuleKind::kRegOffset: {
      uint64_t base = 0;
      if (!RegisterValue(regs, r.reg, &base)) return StepStatus::kUnsupported;
      *value = base + static_cast<uint64_t>(r.offset);
      return StepStatus::kOk;
    }
    case RuleKind::kAtCfaOffset:
      return memory.Read(cfa + static_cast<uint64_t>(r.offset), 8, value) ? StepStatus::kOk
                                                                          : StepStatus::kOutOfStack;
    case RuleKind::kValCfaOffset:
      *value = cfa + static_cast<uint64_t>(r.offset);
      return StepStatus::kOk;
    case RuleKind::kExpression:
    case RuleKind::kValExpression: {
      uint64_t result = 0;
      ExprStatus s = EvaluateDwarfExpr(std::span(rule.exprs).subspan(r.expr_begin, r.expr_size),
                                       regs, &cfa, memory, &result);
      if (s != ExprStatus::kOk) return FromExpr(s);
      if (r.kind == RuleKind::kValExpression) {
        *value = result;
        return StepStatus::kOk;
      }
      return memory.Read(result, 8, value) ? StepStatus::kOk : StepStatus::kOutOfStack;
    }
  }
  return StepStatus::kUnsupported;
}

UnwindEnd EndOf(StepStatus status) {
  switch (status) {
    case StepStatus::kOutOfStack:
      return UnwindEnd::kTruncated;
    case StepStatus::kComplete:
      return UnwindEnd::kComplete;
    default:
      return UnwindEnd::kBadFrame;
  }
}

}  // namespace

std::string_view UnwindEndName(UnwindEnd end) {
  switch (end) {
    case UnwindEnd::kComplete:
      return "complete";
    case UnwindEnd::kTruncated:
      return "truncated";
    case UnwindEnd::kNoCfi:
      return "no CFI";
    case UnwindEnd::kUnknownMapping:
      return "unknown mapping";
    case UnwindEnd::kBadFrame:
      return "bad frame";
    case UnwindEnd::kMaxDepth:
      return "max depth";
    case UnwindEnd::kGoStackSwitch:
      return "Go stack switch";
  }
  return "unknown";
}

namespace {

// Go's runtime runs some code on the thread's system stack (g0): runtime.systemstack, mcall and
// morestack move sp to another stack and call a function there; asmcgocall does the same for C
// code. The caller's frames stay on the goroutine's stack, which the sample did not copy, and the
// CFI of these functions describes the stack they left, so what it reads on the new stack is
// garbage (a value left by mstart's frames). The unwind stops at them with its own reason.
bool IsGoStackSwitch(std::string_view function) {
  static constexpr std::string_view kSwitches[] = {
      "runtime.systemstack", "runtime.mcall",           "runtime.morestack",
      "runtime.asmcgocall",  "runtime.asmcgocall_no_g",
  };
  for (std::string_view name : kSwitches) {
    if (function == name) return true;
  }
  return false;
}

struct CachedRule {
  FrameRule rule;
  bool go_stack_switch = false;  // the pc lies in one of Go's stack-switching functions
};

}  // namespace

// The rules of one file. The cache does not keep the file open (files close once the target
// unmapped them and the ElfCache let them go); it remembers the file weakly, so rules cached
// for a closed file are never used for another file allocated at the same address.
struct FileRules {
  std::weak_ptr<ElfFile> owner;
  std::unordered_map<uint64_t, CachedRule> rules;
};

struct Unwinder::Impl {
  std::unordered_map<const ElfFile*, FileRules> files;
  size_t rule_count = 0;
  size_t sweep_at = 64;  // forget closed files once this many files are known

  const CachedRule& Get(const std::shared_ptr<ElfFile>& elf, uint64_t vaddr) {
    if (rule_count >= kMaxCachedRules) {
      files.clear();
      rule_count = 0;
    }
    if (files.size() >= sweep_at) {
      std::erase_if(files, [this](const auto& entry) {
        if (!entry.second.owner.expired()) return false;
        rule_count -= entry.second.rules.size();
        return true;
      });
      sweep_at = 2 * files.size() + 64;
    }
    FileRules& file = files[elf.get()];
    if (file.owner.lock() != elf) {  // new, or a closed file's address reused by another file
      rule_count -= file.rules.size();
      file.rules.clear();
      file.owner = elf;
    }
    auto it = file.rules.find(vaddr);
    if (it != file.rules.end()) return it->second;
    CachedRule cached;
    // .debug_frame only where .eh_frame has nothing: asking for it loads the file's DWARF (tens
    // of ms for a compressed separate debug file such as libc's).
    cached.rule = LookUpFrameRule(elf->eh_frame_cfi(), nullptr, vaddr);
    // A corrupt .eh_frame_hdr hides intact FDEs: scan .eh_frame itself before giving up on it.
    if (!cached.rule.has_cfi) {
      cached.rule = LookUpFrameRule(elf->eh_frame_scan_cfi(), nullptr, vaddr);
    }
    if (!cached.rule.has_cfi) {
      cached.rule = LookUpFrameRule(nullptr, elf->debug_frame_cfi(), vaddr);
      // Go's linker writes .debug_frame and no .eh_frame, so only pcs whose CFI comes from
      // there can be Go's; this names each such pc once (its DWARF is loaded already).
      if (cached.rule.has_cfi) {
        std::vector<SourceFrame> frames = elf->Symbolize(vaddr);
        cached.go_stack_switch = !frames.empty() && IsGoStackSwitch(frames.back().function);
      }
    }
    ++rule_count;
    return file.rules.emplace(vaddr, std::move(cached)).first->second;
  }
};

Unwinder::Unwinder(AddressSpace* address_space)
    : address_space_(address_space), impl_(std::make_shared<Impl>()) {}

UnwindResult Unwinder::Unwind(const UserRegisters& user_regs, const StackCopy& stack,
                              size_t max_frames) {
  UnwindResult result;
  const StackMemory memory(stack.start, stack.bytes);
  KnownRegisters regs{user_regs.ip, user_regs.sp, user_regs.bp, /*bp_valid=*/true};
  // The sampled pc is exact; a return address points after its call, so look up pc - 1 (which
  // still lies in the calling function even when the call is its last instruction).
  bool exact_pc = true;
  for (;;) {
    if (result.pcs.size() >= max_frames) {
      result.end = UnwindEnd::kMaxDepth;
      return result;
    }
    // A pc outside every executable mapping is not kept: it is a value that was never a return
    // address (or code unmapped since), and a profile shows only real code.
    const uint64_t lookup_pc = exact_pc ? regs.ip : regs.ip - 1;
    const Mapping* mapping = address_space_->Find(lookup_pc);
    if (mapping == nullptr) {
      result.end = UnwindEnd::kUnknownMapping;
      return result;
    }
    result.pcs.push_back(regs.ip);
    uint64_t caller_ip = 0;
    uint64_t caller_sp = 0;
    KnownRegisters caller = regs;
    bool caller_exact_pc = false;
    const FrameRule* rule = nullptr;
    if (mapping->elf) {
      const CachedRule& cached = impl_->Get(mapping->elf, mapping->VaddrOf(lookup_pc));
      if (cached.go_stack_switch) {
        result.end = UnwindEnd::kGoStackSwitch;
        return result;
      }
      if (cached.rule.has_cfi) rule = &cached.rule;
    }
    if (rule != nullptr) {
      uint64_t cfa = 0;
      StepStatus s = EvalCfa(*rule, regs, memory, &cfa);
      if (s == StepStatus::kOk) {
        s = EvalRegister(*rule, rule->ra, regs.ip, regs, cfa, memory, &caller_ip);
      }
      if (s == StepStatus::kOk) {
        s = EvalRegister(*rule, rule->sp, regs.sp, regs, cfa, memory, &caller_sp);
        // An sp that cannot be recovered is, by the x86-64 ABI, the CFA.
        if (s == StepStatus::kComplete) {
          caller_sp = cfa;
          s = StepStatus::kOk;
        }
      }
      if (s == StepStatus::kOk) {
        // rbp is only needed by later frames whose CFA uses it, so a rule we cannot follow makes
        // it unknown rather than ending the unwind here.
        uint64_t bp = 0;
        StepStatus bs = EvalRegister(*rule, rule->bp, regs.bp, regs, cfa, memory, &bp);
        if (bs != StepStatus::kOk) {
          caller.bp_valid = false;
        } else if (rule->bp.kind != RuleKind::kSameValue) {
          caller.bp = bp;
          caller.bp_valid = true;
        }
      }
      if (s != StepStatus::kOk) {
        result.end = EndOf(s);
        return result;
      }
      caller_exact_pc = rule->signal_frame;
    } else {
      // Frame-pointer fallback: [bp] = caller's bp, [bp + 8] = return address.
      if (!regs.bp_valid || regs.bp < regs.sp) {
        result.end = UnwindEnd::kNoCfi;
        return result;
      }
      uint64_t saved_bp = 0;
      if (!memory.Read(regs.bp, 8, &saved_bp) || !memory.Read(regs.bp + 8, 8, &caller_ip)) {
        result.end = UnwindEnd::kTruncated;  // bp >= sp, so it points past the copy
        return result;
      }
      // Without CFI nothing vouches for bp: a value that is not a frame pointer gives garbage,
      // so accept the return address only if it lands in code. A zero there is no proof of the
      // outermost frame either (only CFI saying "no return address" is): a function without
      // CFI or frame pointer, such as most of musl, leaves in bp whatever it likes.
      if (caller_ip == 0 || address_space_->Find(caller_ip - 1) == nullptr) {
        result.end = UnwindEnd::kNoCfi;
        return result;
      }
      caller_sp = regs.bp + 16;
      caller.bp = saved_bp;
    }
    if (caller_ip == 0) {
      result.end = UnwindEnd::kComplete;
      return result;
    }
    // Each caller's frame lies above its callee's; anything else is a loop or garbage.
    if (caller_sp < regs.sp || (caller_sp == regs.sp && result.pcs.size() > 1)) {
      result.end = UnwindEnd::kBadFrame;
      return result;
    }
    caller.ip = caller_ip;
    caller.sp = caller_sp;
    regs = caller;
    exact_pc = caller_exact_pc;
  }
}

}  // namespace pprofd::symbolizer
