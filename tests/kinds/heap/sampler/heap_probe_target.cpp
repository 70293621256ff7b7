// Workload for heap_sampler_test: performs known allocator calls on commands read from stdin and
// reports what it did on stdout. Only raw read/write and snprintf into static buffers between a
// command and its "done", so the calls the test expects are the only ones the process makes.
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace {

char out[1 << 16];
size_t out_len = 0;
void* live[1024];
size_t live_count = 0;
void* volatile sink;

void Emit(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Emit(const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = vsnprintf(out + out_len, sizeof(out) - out_len, format, args);
  va_end(args);
  if (n > 0) out_len += static_cast<size_t>(n);
}

void Flush() {
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(1, out + done, out_len - done);
    if (n <= 0) _exit(3);
    done += static_cast<size_t>(n);
  }
  out_len = 0;
}

void Keep(void* p, const char* fn, size_t size, const char* op) {
  live[live_count++] = p;
  Emit("alloc %s %zu %lx %s\n", fn, size, reinterpret_cast<unsigned long>(p), op);
}

bool ReadLine(char* line, size_t capacity) {
  size_t len = 0;
  while (len + 1 < capacity) {
    char c;
    if (read(0, &c, 1) != 1) return false;
    if (c == '\n') break;
    line[len++] = c;
  }
  line[len] = 0;
  return true;
}

}  // namespace

// extern "C": the test finds these by name in .symtab to check the ip of each alloc event.
extern "C" {

__attribute__((noinline)) void OpMalloc() {
  for (size_t i = 0; i < 10; ++i) {
    void* p = malloc(1000 + i);
    Keep(p, "malloc", 1000 + i, "OpMalloc");
  }
}

__attribute__((noinline)) void OpCalloc() {
  for (size_t i = 0; i < 3; ++i) {
    void* p = calloc(10, 100 + i);
    Keep(p, "calloc", 10 * (100 + i), "OpCalloc");
  }
}

__attribute__((noinline)) void OpRealloc() {
  void* p = malloc(100);
  Emit("alloc malloc 100 %lx OpRealloc\n", reinterpret_cast<unsigned long>(p));
  void* q = realloc(p, 200000);
  Emit("alloc realloc 200000 %lx OpRealloc\n", reinterpret_cast<unsigned long>(q));
  void* r = realloc(q, 300000);
  Keep(r, "realloc", 300000, "OpRealloc");
}

__attribute__((noinline)) void OpReallocNull() {
  void* p = realloc(nullptr, 5000);
  Keep(p, "realloc", 5000, "OpReallocNull");
}

__attribute__((noinline)) void OpReallocarray() {
  void* p = reallocarray(nullptr, 10, 700);
  Keep(p, "reallocarray", 7000, "OpReallocarray");
}

__attribute__((noinline)) void OpPosixMemalign() {
  void* p = nullptr;
  if (posix_memalign(&p, 64, 3000) != 0) _exit(4);
  Keep(p, "posix_memalign", 3000, "OpPosixMemalign");
}

__attribute__((noinline)) void OpAlignedAlloc() {
  void* p = aligned_alloc(256, 4096);
  Keep(p, "aligned_alloc", 4096, "OpAlignedAlloc");
}

__attribute__((noinline)) void OpMemalign() {
  void* p = memalign(128, 2000);
  Keep(p, "memalign", 2000, "OpMemalign");
}

__attribute__((noinline)) void OpValloc() {
  void* p = valloc(100);
  Keep(p, "valloc", 100, "OpValloc");
}

__attribute__((noinline)) void OpPvalloc() {
  void* p = pvalloc(100);
  Keep(p, "pvalloc", 4096, "OpPvalloc");
}

__attribute__((noinline)) void OpReallocZero() {
  void* p = malloc(300);
  Emit("alloc malloc 300 %lx OpReallocZero\n", reinterpret_cast<unsigned long>(p));
  sink = realloc(p, 0);
}

__attribute__((noinline)) void OpFreeAll() {
  for (size_t i = 0; i < live_count; ++i) free(live[i]);
  live_count = 0;
}

__attribute__((noinline)) void OpLive(size_t count, size_t size) {
  for (size_t i = 0; i < count && live_count < 1024; ++i) {
    void* p = malloc(size);
    Keep(p, "malloc", size, "OpLive");
  }
}

// Sizes cycle through 64, 256, 1000, 5000; every block is freed at once.
__attribute__((noinline)) unsigned long OpChurn(size_t count) {
  static const size_t kSizes[] = {64, 256, 1000, 5000};
  unsigned long total = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t size = kSizes[i % 4];
    void* p = malloc(size);
    sink = p;
    free(p);
    total += size;
  }
  return total;
}

__attribute__((noinline)) void OpLoop(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    void* p = malloc(64);
    sink = p;
    free(p);
  }
}

void* ThreadBody(void*) {
  Emit("tid %ld\n", static_cast<long>(syscall(SYS_gettid)));
  for (int i = 0; i < 5; ++i) {
    void* p = malloc(777);
    Emit("alloc malloc 777 %lx ThreadBody\n", reinterpret_cast<unsigned long>(p));
    free(p);
  }
  return nullptr;
}

}  // extern "C"

int main() {
  Emit("pid %ld\n", static_cast<long>(getpid()));
  const struct {
    const char* name;
    void* address;
  } symbols[] = {
      {"OpMalloc", reinterpret_cast<void*>(&OpMalloc)},
      {"OpCalloc", reinterpret_cast<void*>(&OpCalloc)},
      {"OpRealloc", reinterpret_cast<void*>(&OpRealloc)},
      {"OpReallocNull", reinterpret_cast<void*>(&OpReallocNull)},
      {"OpReallocarray", reinterpret_cast<void*>(&OpReallocarray)},
      {"OpPosixMemalign", reinterpret_cast<void*>(&OpPosixMemalign)},
      {"OpAlignedAlloc", reinterpret_cast<void*>(&OpAlignedAlloc)},
      {"OpMemalign", reinterpret_cast<void*>(&OpMemalign)},
      {"OpValloc", reinterpret_cast<void*>(&OpValloc)},
      {"OpPvalloc", reinterpret_cast<void*>(&OpPvalloc)},
      {"OpReallocZero", reinterpret_cast<void*>(&OpReallocZero)},
      {"OpLive", reinterpret_cast<void*>(&OpLive)},
      {"OpChurn", reinterpret_cast<void*>(&OpChurn)},
      {"ThreadBody", reinterpret_cast<void*>(&ThreadBody)},
  };
  for (const auto& symbol : symbols) {
    Emit("sym %s %lx\n", symbol.name, reinterpret_cast<unsigned long>(symbol.address));
  }
  Emit("ready\n");
  Flush();
  char line[256];
  while (ReadLine(line, sizeof(line))) {
    unsigned long a = 0, b = 0;
    if (strcmp(line, "run") == 0) {
      OpMalloc();
      OpCalloc();
      OpRealloc();
      OpReallocNull();
      OpReallocarray();
      OpPosixMemalign();
      OpAlignedAlloc();
      OpMemalign();
      OpValloc();
      OpPvalloc();
      OpReallocZero();
      OpFreeAll();
      Emit("done\n");
    } else if (strcmp(line, "thread") == 0) {
      pthread_t thread;
      if (pthread_create(&thread, nullptr, ThreadBody, nullptr) != 0) _exit(5);
      pthread_join(thread, nullptr);
      Emit("done\n");
    } else if (sscanf(line, "live %lu %lu", &a, &b) == 2) {
      OpLive(a, b);
      Emit("done\n");
    } else if (strcmp(line, "freelive") == 0) {
      OpFreeAll();
      Emit("done\n");
    } else if (sscanf(line, "churn %lu", &a) == 1) {
      Emit("done %lu\n", OpChurn(a));
    } else if (sscanf(line, "loop %lu", &a) == 1) {
      timespec start, end;
      clock_gettime(CLOCK_MONOTONIC, &start);
      OpLoop(a);
      clock_gettime(CLOCK_MONOTONIC, &end);
      long long ns = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
      Emit("done %lld\n", ns);
    } else if (strcmp(line, "quit") == 0) {
      break;
    } else {
      Emit("error unknown command\n");
    }
    Flush();
  }
  return 0;
}
