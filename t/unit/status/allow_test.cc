// StatusAllow: IPv4 and IPv6 CIDRs, single addresses, v4-mapped IPv6 clients
// and CIDRs, zones, and garbage.
#include <gtest/gtest.h>

#include "status_env.h"

namespace drover::status {
namespace {

using testing::Env;

TEST(StatusAllow, Ipv4Cidrs) {
  Env env(testing::DefaultBalancers(), {"10.0.0.0/8", "192.168.1.7", "172.16.0.0/12"});
  StatusContext& c = env.ctx();
  EXPECT_TRUE(c.Allowed("10.0.0.1"));
  EXPECT_TRUE(c.Allowed("10.255.255.255"));
  EXPECT_FALSE(c.Allowed("11.0.0.1"));
  EXPECT_TRUE(c.Allowed("192.168.1.7"));
  EXPECT_FALSE(c.Allowed("192.168.1.8"));
  EXPECT_TRUE(c.Allowed("172.31.255.1"));
  EXPECT_FALSE(c.Allowed("172.32.0.1"));
  EXPECT_FALSE(c.Allowed("127.0.0.1"));
  // A v4-mapped IPv6 client matches the IPv4 CIDRs.
  EXPECT_TRUE(c.Allowed("::ffff:10.1.2.3"));
  EXPECT_FALSE(c.Allowed("::ffff:11.1.2.3"));
  // But not an IPv6 address that merely shares the bytes.
  EXPECT_FALSE(c.Allowed("a00:1::"));
}

TEST(StatusAllow, Ipv6Cidrs) {
  Env env(testing::DefaultBalancers(), {"2001:db8::/32", "::1", "fe80::/10", "2001:db9:0:1::/63"});
  StatusContext& c = env.ctx();
  EXPECT_TRUE(c.Allowed("2001:db8::1"));
  EXPECT_TRUE(c.Allowed("2001:DB8:ffff::1"));
  EXPECT_FALSE(c.Allowed("2001:dba::1"));
  EXPECT_TRUE(c.Allowed("::1"));
  EXPECT_FALSE(c.Allowed("::2"));
  EXPECT_TRUE(c.Allowed("fe80::1%eth0"));
  EXPECT_TRUE(c.Allowed("febf::1"));
  EXPECT_FALSE(c.Allowed("fec0::1"));
  EXPECT_TRUE(c.Allowed("2001:db9:0:0::5"));
  EXPECT_TRUE(c.Allowed("2001:db9:0:1::5"));
  EXPECT_FALSE(c.Allowed("2001:db9:0:2::5"));
  EXPECT_FALSE(c.Allowed("127.0.0.1"));
}

TEST(StatusAllow, MappedCidrAndEdges) {
  Env env(testing::DefaultBalancers(), {"::ffff:192.0.2.0/120", "0.0.0.0/0"});
  EXPECT_TRUE(env.ctx().Allowed("8.8.8.8"));  // 0.0.0.0/0: every IPv4 client
  EXPECT_FALSE(env.ctx().Allowed("2001:db8::1"));
  Env mapped(testing::DefaultBalancers(), {"::ffff:192.0.2.0/120"});
  EXPECT_TRUE(mapped.ctx().Allowed("192.0.2.55"));  // IPv4 client, v4-mapped CIDR
  EXPECT_FALSE(mapped.ctx().Allowed("192.0.3.1"));
  Env all6(testing::DefaultBalancers(), {"::/0"});
  EXPECT_TRUE(all6.ctx().Allowed("2001:db8::1"));
  EXPECT_TRUE(all6.ctx().Allowed("1.2.3.4"));  // ::/0 holds the v4-mapped range too
  Env none(testing::DefaultBalancers(), {});
  EXPECT_FALSE(none.ctx().Allowed("127.0.0.1"));
  Env def;
  EXPECT_TRUE(def.ctx().Allowed("127.1.2.3"));
  EXPECT_TRUE(def.ctx().Allowed("::1"));
  EXPECT_FALSE(def.ctx().Allowed(""));
  EXPECT_FALSE(def.ctx().Allowed("localhost"));
  EXPECT_FALSE(def.ctx().Allowed("127.0.0.1:80"));
  EXPECT_FALSE(def.ctx().Allowed("1.2.3"));
  EXPECT_TRUE(def.ctx().Allowed("[::1]"));
}

}  // namespace
}  // namespace drover::status
