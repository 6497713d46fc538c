#include "core/small_alloc.h"

#include <event2/event.h>
#include <malloc.h>

#include <cstdint>
#include <cstdlib>

namespace drover::core {
namespace {

// The free lists follow glibc's own chunk sizes (16-byte steps; a chunk of size C
// gives C - 8 usable bytes), so a cached block is an ordinary malloc block: it
// needs no header, realloc() and free() take it as is, and malloc_usable_size()
// tells its class when it comes back.
constexpr size_t kStep = 16;
constexpr size_t kOverhead = 8;  // glibc's size field
constexpr size_t kClasses = (kSmallMax + kOverhead) / kStep + 1;
// Each class holds at most kClassBytes of free blocks, and between kMinKeep and
// kMaxKeep of them: 256 of 64 bytes, 64 of 4 KiB.
constexpr size_t kClassBytes = 256 * 1024;
constexpr size_t kMinKeep = 16;
constexpr size_t kMaxKeep = 256;

struct FreeBlock {
  FreeBlock* next;
};

struct Cache {
  FreeBlock* head[kClasses] = {};
  uint32_t count[kClasses] = {};
  size_t blocks = 0;
};

thread_local Cache cache;

// The class (chunk size / 16) malloc(n) would use.
constexpr size_t ClassOf(size_t n) {
  return n + kOverhead <= 32 ? 2 : (n + kOverhead + kStep - 1) / kStep;
}
constexpr size_t Keep(size_t cls) {
  size_t k = kClassBytes / (cls * kStep);
  return k < kMinKeep ? kMinKeep : (k > kMaxKeep ? kMaxKeep : k);
}

void* EventMalloc(size_t n) { return SmallAlloc(n); }
void* EventRealloc(void* p, size_t n) { return SmallRealloc(p, n); }
void EventFree(void* p) { SmallFree(p); }

}  // namespace

void* SmallAlloc(size_t n) {
  if (kSmallAllocCache && n <= kSmallMax) {
    Cache& c = cache;
    size_t cls = ClassOf(n);
    FreeBlock* b = c.head[cls];
    if (b != nullptr) {
      c.head[cls] = b->next;
      --c.count[cls];
      --c.blocks;
      return b;
    }
  }
  return malloc(n == 0 ? 1 : n);
}

void SmallFree(void* p) {
  if (p == nullptr) {
    return;
  }
  if (kSmallAllocCache) {
    size_t cls = (malloc_usable_size(p) + kOverhead) / kStep;
    Cache& c = cache;
    if (cls < kClasses && c.count[cls] < Keep(cls)) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = c.head[cls];
      c.head[cls] = b;
      ++c.count[cls];
      ++c.blocks;
      return;
    }
  }
  free(p);
}

void* SmallRealloc(void* p, size_t n) { return realloc(p, n); }

size_t SmallCachedBlocks() { return cache.blocks; }

void UseSmallAllocForLibevent() { event_set_mem_functions(EventMalloc, EventRealloc, EventFree); }

}  // namespace drover::core
