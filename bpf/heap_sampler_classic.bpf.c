// SPDX-License-Identifier: GPL-2.0
/* The heap sampler without its session-uprobe program's kfuncs: the object the classic mode
 * (uprobe + uretprobe) loads, opened through heap_sampler's skeleton (same maps, globals and
 * program names; heap_session is a stub never loaded). See PPROFD_HEAP_NO_SESSION. */
#define PPROFD_HEAP_NO_SESSION
#include "heap_sampler.bpf.c"
