#include "core/small_alloc.h"

#include <event2/event.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define DROVER_SMALL_ALLOC_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DROVER_SMALL_ALLOC_CACHE 0
#endif
#endif
#ifndef DROVER_SMALL_ALLOC_CACHE
#define DROVER_SMALL_ALLOC_CACHE 1
#endif

namespace drover::core {
namespace {

constexpr size_t kGrain = 64;
constexpr size_t kClasses = kSmallMax / kGrain;
constexpr uint32_t kLarge = 0xffffffff;
// Each class holds at most kClassBytes of free blocks, and between kMinKeep and
// kMaxKeep of them: 256 of 64 bytes, 64 of 4 KiB.
constexpr size_t kClassBytes = 256 * 1024;
constexpr size_t kMinKeep = 16;
constexpr size_t kMaxKeep = 256;

// 16 bytes before each block: its class (kLarge: not cached), and malloc's
// alignment kept.
struct alignas(16) Header {
  uint32_t cls;
  uint32_t unused;
  uint64_t size;  // the usable size (for realloc)
};
static_assert(sizeof(Header) == 16, "header keeps 16-byte alignment");

struct FreeBlock {
  FreeBlock* next;
};

struct Cache {
  FreeBlock* head[kClasses] = {};
  uint32_t count[kClasses] = {};
  size_t blocks = 0;
  size_t bytes = 0;
};

thread_local Cache cache;

constexpr size_t ClassSize(uint32_t cls) { return (cls + 1) * kGrain; }
constexpr size_t Keep(uint32_t cls) {
  size_t k = kClassBytes / ClassSize(cls);
  return k < kMinKeep ? kMinKeep : (k > kMaxKeep ? kMaxKeep : k);
}

Header* HeaderOf(void* p) { return static_cast<Header*>(p) - 1; }

void* FromMalloc(size_t usable, uint32_t cls) {
  auto* h = static_cast<Header*>(malloc(sizeof(Header) + usable));
  if (h == nullptr) {
    return nullptr;
  }
  h->cls = cls;
  h->unused = 0;
  h->size = usable;
  return h + 1;
}

void* EventMalloc(size_t n) { return SmallAlloc(n); }
void* EventRealloc(void* p, size_t n) { return SmallRealloc(p, n); }
void EventFree(void* p) { SmallFree(p); }

}  // namespace

void* SmallAlloc(size_t n) {
  if (n == 0) {
    n = 1;
  }
  if (!DROVER_SMALL_ALLOC_CACHE || n > kSmallMax) {
    return FromMalloc(n, kLarge);
  }
  auto cls = static_cast<uint32_t>((n - 1) / kGrain);
  Cache& c = cache;
  FreeBlock* b = c.head[cls];
  if (b != nullptr) {
    c.head[cls] = b->next;
    --c.count[cls];
    --c.blocks;
    c.bytes -= ClassSize(cls);
    return b;
  }
  return FromMalloc(ClassSize(cls), cls);
}

void SmallFree(void* p) {
  if (p == nullptr) {
    return;
  }
  Header* h = HeaderOf(p);
  uint32_t cls = h->cls;
  if (cls != kLarge) {
    Cache& c = cache;
    if (c.count[cls] < Keep(cls)) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = c.head[cls];
      c.head[cls] = b;
      ++c.count[cls];
      ++c.blocks;
      c.bytes += ClassSize(cls);
      return;
    }
  }
  free(h);
}

void* SmallRealloc(void* p, size_t n) {
  if (p == nullptr) {
    return SmallAlloc(n);
  }
  if (n == 0) {
    SmallFree(p);
    return nullptr;
  }
  Header* h = HeaderOf(p);
  if (n <= h->size) {
    return p;
  }
  if (h->cls == kLarge && n > kSmallMax) {
    auto* g = static_cast<Header*>(realloc(h, sizeof(Header) + n));
    if (g == nullptr) {
      return nullptr;
    }
    g->size = n;
    return g + 1;
  }
  void* q = SmallAlloc(n);
  if (q == nullptr) {
    return nullptr;
  }
  memcpy(q, p, h->size);
  SmallFree(p);
  return q;
}

size_t SmallCachedBlocks() { return cache.blocks; }
size_t SmallCachedBytes() { return cache.bytes; }

void UseSmallAllocForLibevent() { event_set_mem_functions(EventMalloc, EventRealloc, EventFree); }

}  // namespace drover::core
