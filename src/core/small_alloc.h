// A per-thread cache of freed small blocks in front of malloc, for what the proxy
// makes and frees once per connection: libevent's bufferevents, evbuffers, events
// and buffer chains (through event_set_mem_functions), and ClientConn.
//
// Why: under Connection: close a worker allocates and frees some twenty blocks per
// request. glibc serves calloc() and blocks above 1 KiB (libevent's 1 KiB chains
// plus their header, ClientConn) from its arenas, not its per-thread cache, and a
// loop pass that closes dozens of connections overflows the 7 entries a cache bin
// holds either way; _int_malloc/_int_free with consolidation were a quarter of the
// worker's instructions per request. Here a freed block up to kSmallMax bytes goes
// on the free list of its glibc chunk size (each list bounded), and the next
// allocation of that size takes it back in a few instructions. Blocks are plain
// malloc blocks throughout: no header, no memory cost while in use.
//
// Under AddressSanitizer the cache is off (blocks go straight back to malloc), so
// that use-after-free stays visible.
#pragma once

#include <cstddef>

namespace drover::core {

constexpr size_t kSmallMax = 4096;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSmallAllocCache = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSmallAllocCache = false;
#else
constexpr bool kSmallAllocCache = true;
#endif
#else
constexpr bool kSmallAllocCache = true;
#endif

void* SmallAlloc(size_t n);
void* SmallRealloc(void* p, size_t n);  // realloc()
void SmallFree(void* p);                // also takes blocks from plain malloc()

// Blocks cached now on this thread's free lists (for tests).
size_t SmallCachedBlocks();

// Routes libevent's allocations through SmallAlloc; must run before any other
// libevent call.
void UseSmallAllocForLibevent();

}  // namespace drover::core
