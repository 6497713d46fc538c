// tls::TicketKeys: the ring of shared ticket keys. Current/previous semantics across
// rotations, and a child process rotating while the parent reads (reads never fail and
// always return a key the reader can find again or one that was rotated out since).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "tls/tls.h"

namespace drover::tls {
namespace {

std::unique_ptr<TicketKeys> NewKeys() {
  auto keys = TicketKeys::Create();
  EXPECT_TRUE(keys.ok()) << keys.status().message();
  return keys.ok() ? std::move(*keys) : nullptr;
}

bool SameKey(const TicketKey& a, const TicketKey& b) { return memcmp(&a, &b, sizeof(a)) == 0; }

TEST(TlsTicketKeysTest, CurrentAndPreviousAcrossRotations) {
  auto keys = NewKeys();
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(keys->generation(), 0u);
  TicketKey k0;
  ASSERT_TRUE(keys->Current(&k0));
  TicketKey found;
  bool current = false;
  ASSERT_TRUE(keys->Find(k0.name, &found, &current));
  EXPECT_TRUE(current);
  EXPECT_TRUE(SameKey(found, k0));

  ASSERT_TRUE(keys->Rotate().ok());
  EXPECT_EQ(keys->generation(), 1u);
  TicketKey k1;
  ASSERT_TRUE(keys->Current(&k1));
  EXPECT_NE(memcmp(k1.name, k0.name, kTicketNameLen), 0);
  EXPECT_NE(memcmp(k1.aes_key, k0.aes_key, kTicketAesKeyLen), 0);
  EXPECT_NE(memcmp(k1.hmac_key, k0.hmac_key, kTicketHmacKeyLen), 0);
  ASSERT_TRUE(keys->Find(k0.name, &found, &current));
  EXPECT_FALSE(current);
  EXPECT_TRUE(SameKey(found, k0));
  ASSERT_TRUE(keys->Find(k1.name, &found, &current));
  EXPECT_TRUE(current);

  ASSERT_TRUE(keys->Rotate().ok());
  EXPECT_FALSE(keys->Find(k0.name, &found, &current));
  ASSERT_TRUE(keys->Find(k1.name, &found, &current));
  EXPECT_FALSE(current);
  // Many rotations later the ring slots are reused; old keys stay gone.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(keys->Rotate().ok());
  }
  EXPECT_FALSE(keys->Find(k1.name, &found, &current));
  EXPECT_EQ(keys->generation(), 12u);
}

TEST(TlsTicketKeysTest, UnknownNameIsNotFound) {
  auto keys = NewKeys();
  ASSERT_NE(keys, nullptr);
  unsigned char name[kTicketNameLen] = {};
  TicketKey found;
  bool current = false;
  EXPECT_FALSE(keys->Find(name, &found, &current));
}

TEST(TlsTicketKeysTest, SeparateRegionsHaveDifferentKeys) {
  auto a = NewKeys();
  auto b = NewKeys();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  TicketKey ka;
  TicketKey kb;
  ASSERT_TRUE(a->Current(&ka));
  ASSERT_TRUE(b->Current(&kb));
  EXPECT_FALSE(SameKey(ka, kb));
}

TEST(TlsTicketKeysTest, ReadsWhileAnotherProcessRotates) {
  auto keys = NewKeys();
  ASSERT_NE(keys, nullptr);
  constexpr int kRotations = 2000;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (int i = 0; i < kRotations; ++i) {
      if (!keys->Rotate().ok()) {
        _exit(1);
      }
    }
    _exit(0);
  }
  int reads = 0;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0 || reads < 1000) {
    TicketKey k;
    ASSERT_TRUE(keys->Current(&k));
    ++reads;
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(keys->generation(), static_cast<uint64_t>(kRotations));
  // The parent sees the child's last key as current.
  TicketKey k;
  ASSERT_TRUE(keys->Current(&k));
  TicketKey found;
  bool current = false;
  ASSERT_TRUE(keys->Find(k.name, &found, &current));
  EXPECT_TRUE(current);
}

}  // namespace
}  // namespace drover::tls
