// core::SmallAlloc: the per-thread cache of small blocks (core/small_alloc.h).
#include "core/small_alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace drover::core {
namespace {

constexpr bool kCache = kSmallAllocCache;

TEST(SmallAlloc, FreedBlockIsReusedForTheSameClass) {
  if (!kCache) {
    GTEST_SKIP() << "the cache is off under AddressSanitizer";
  }
  void* a = SmallAlloc(1000);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 16, 0u);
  size_t blocks = SmallCachedBlocks();
  SmallFree(a);
  EXPECT_EQ(SmallCachedBlocks(), blocks + 1);
  void* b = SmallAlloc(993);  // the same glibc chunk size (1008 bytes)
  EXPECT_EQ(a, b);
  EXPECT_EQ(SmallCachedBlocks(), blocks);
  SmallFree(b);
}

TEST(SmallAlloc, OtherClassesAndLargeBlocksAreSeparate) {
  void* a = SmallAlloc(100);
  SmallFree(a);
  void* big = SmallAlloc(kSmallMax + 1);  // not cached: straight from malloc
  ASSERT_NE(big, nullptr);
  memset(big, 0xab, kSmallMax + 1);
  size_t blocks = SmallCachedBlocks();
  SmallFree(big);
  EXPECT_EQ(SmallCachedBlocks(), blocks);
  void* c = SmallAlloc(1000);
  EXPECT_NE(c, a);
  SmallFree(c);
}

TEST(SmallAlloc, EachClassIsBounded) {
  size_t before = SmallCachedBlocks();
  std::vector<void*> v;
  for (int i = 0; i < 5000; ++i) {
    v.push_back(SmallAlloc(64));
  }
  for (void* p : v) {
    SmallFree(p);
  }
  // At most 256 blocks of 64 bytes stay cached, the rest went back to malloc (a few
  // of the 5000 may have come in a chunk one step bigger: another class, as bounded).
  EXPECT_LE(SmallCachedBlocks() - before, 2 * 256u);
  if (kCache) {
    EXPECT_GE(SmallCachedBlocks(), 256u);
  }
}

TEST(SmallAlloc, ReallocKeepsTheBytes) {
  auto* p = static_cast<unsigned char*>(SmallAlloc(10));
  for (int i = 0; i < 10; ++i) {
    p[i] = static_cast<unsigned char>(i + 1);
  }
  auto* q = static_cast<unsigned char*>(SmallRealloc(p, 3000));
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(q[i], i + 1);
  }
  auto* r = static_cast<unsigned char*>(SmallRealloc(q, 100000));  // into a large block
  ASSERT_NE(r, nullptr);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(r[i], i + 1);
  }
  r[99999] = 7;
  auto* s = static_cast<unsigned char*>(SmallRealloc(r, 200000));  // large stays large
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s[0], 1);
  EXPECT_EQ(s[99999], 7);
  SmallFree(s);
  void* z = SmallRealloc(nullptr, 0);  // like SmallAlloc(0): a valid block
  EXPECT_NE(z, nullptr);
  SmallFree(z);
}

}  // namespace
}  // namespace drover::core
