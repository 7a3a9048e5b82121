#include "redis/target.hpp"
#include "redis/client.hpp"
#include "redis/state.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace hornbeam::redis {
namespace {

TEST(Backend, ShmIsNotRedis) { EXPECT_FALSE(parse_backend("shm")); }

TEST(Backend, ReadsAStandaloneUrl) {
  const auto plain = parse_backend("redis://cache.internal");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->cluster);
  EXPECT_EQ(plain->nodes, (std::vector<Node>{{"cache.internal", 6379}}));
  EXPECT_EQ(plain->db, 0);
  const auto full = parse_backend("redis://app:p%40ss%3Aword@10.0.0.5:6380/3");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->user, "app");
  EXPECT_EQ(full->password, "p@ss:word");
  EXPECT_EQ(full->nodes, (std::vector<Node>{{"10.0.0.5", 6380}}));
  EXPECT_EQ(full->db, 3);
  EXPECT_EQ(describe(*full), "redis://app@10.0.0.5:6380/3");  // no password in logs
  const auto password_only = parse_backend("redis://secret@[::1]:7000/");
  ASSERT_TRUE(password_only);
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "secret");
  EXPECT_EQ(password_only->nodes, (std::vector<Node>{{"::1", 7000}}));
  EXPECT_EQ(to_string(password_only->nodes[0]), "[::1]:7000");
}

TEST(Backend, ReadsTheTlsSchemes) {
  const auto secure = parse_backend("rediss://cache:6380/1");
  ASSERT_TRUE(secure);
  EXPECT_TRUE(secure->tls);
  EXPECT_FALSE(secure->cluster);
  EXPECT_EQ(describe(*secure), "rediss://cache:6380/1");
  const auto cluster = parse_backend("rediss-cluster://a:7000,b:7000");
  ASSERT_TRUE(cluster);
  EXPECT_TRUE(cluster->tls && cluster->cluster);
  EXPECT_FALSE(parse_backend("redis://cache")->tls);
}

TEST(Backend, ReadsALocalSocketAsRedisPyWritesIt) {
  const auto plain = parse_backend("unix:///run/redis/redis-server.sock");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->cluster || plain->tls);
  EXPECT_EQ(plain->nodes, (std::vector<Node>{{"/run/redis/redis-server.sock", 0}}));
  EXPECT_TRUE(plain->nodes[0].local());
  EXPECT_EQ(plain->db, 0);
  EXPECT_EQ(to_string(plain->nodes[0]), "/run/redis/redis-server.sock");
  const auto full = parse_backend("unix://app:p%40ss@/tmp/r.sock?db=2");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->user, "app");
  EXPECT_EQ(full->password, "p@ss");
  EXPECT_EQ(full->nodes, (std::vector<Node>{{"/tmp/r.sock", 0}}));
  EXPECT_EQ(full->db, 2);
  EXPECT_EQ(describe(*full), "unix://app@/tmp/r.sock?db=2");  // no password in logs
  const auto password_only = parse_backend("unix://secret@/tmp/r.sock");
  ASSERT_TRUE(password_only);
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "secret");
  EXPECT_FALSE(parse_backend("redis://cache")->nodes[0].local());
  const auto escaped = parse_backend("unix:///run/my%20app/redis%3F.sock?db=1");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->nodes, (std::vector<Node>{{"/run/my app/redis?.sock", 0}}));
  EXPECT_EQ(escaped->db, 1);
}

TEST(Backend, RefusesALocalSocketItCannotReach) {
  const std::string too_long = "unix:///" + std::string(107, 'a');
  for (const std::string& bad :
       {std::string("unix://"), std::string("unix:///"), std::string("unix://relative.sock"),
        std::string("unix://u:p@relative.sock"), std::string("unix:///tmp/r.sock?db=x"),
        std::string("unix:///tmp/r.sock?timeout=1"), std::string("unix:///tmp/r.sock?db=1&x=2"),
        std::string("unix:///tmp/dir/"), std::string("unix:///tmp/r%zz.sock"),
        std::string("unix:///tmp/r%00.sock"), too_long}) {
    EXPECT_THROW(parse_backend(bad), std::invalid_argument) << bad;
  }
  EXPECT_NO_THROW(parse_backend("unix:///" + std::string(106, 'a')));  // 107 bytes with the '/'
}

TEST(Backend, ReadsAClusterUrlWithItsSeeds) {
  const auto cluster = parse_backend("redis-cluster://a:7000,b:7001,[fd00::2]:7002");
  ASSERT_TRUE(cluster);
  EXPECT_TRUE(cluster->cluster);
  EXPECT_EQ(cluster->nodes, (std::vector<Node>{{"a", 7000}, {"b", 7001}, {"fd00::2", 7002}}));
}

TEST(Backend, RefusesWhatItCannotServe) {
  for (const char* bad :
       {"", "memory", "redis://", "redis://host:0", "redis://host:70000", "redis://host:x",
        "redis://host/db", "redis://host/-1", "redis://a:1,b:2", "redis-cluster://a:1/2",
        "redis://host?timeout=1", "redis://u:%zz@host", "redis://u:%4@host", "rediss//host:6379",
        "http://host", "redis-sentinel://host"}) {
    EXPECT_THROW(parse_backend(bad), std::invalid_argument) << bad;
  }
}

TEST(KeySlot, IsRedisClusterHashSlot) {
  // The values CLUSTER KEYSLOT gives.
  EXPECT_EQ(key_slot("123456789"), 12739);  // CRC16/XMODEM's check value, 0x31C3
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(key_slot("foo{}{bar}"), key_slot("foo{}{bar}"));
  EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar"));  // an empty {} tag hashes the whole key
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
}

TEST(StoredFields, AreReadableByAnyClientAndComeBackTheSame) {
  const std::int64_t number = -(std::int64_t{1} << 62);
  const auto [int_type, int_text] =
      to_fields(shm::ValueType::integer, {reinterpret_cast<const char*>(&number), 8});
  EXPECT_EQ(int_type, "int");
  EXPECT_EQ(int_text, "-4611686018427387904");
  const double real = 0.1;
  const auto [float_type, float_text] =
      to_fields(shm::ValueType::floating, {reinterpret_cast<const char*>(&real), 8});
  EXPECT_EQ(float_type, "float");
  EXPECT_EQ(float_text, "0.1");
  EXPECT_EQ(to_fields(shm::ValueType::boolean, "\x01").second, "1");
  EXPECT_EQ(to_fields(shm::ValueType::text, "héllo").second, "héllo");

  auto bulk = [](std::string text) {
    Reply reply;
    reply.kind = Reply::Kind::bulk;
    reply.text = std::move(text);
    return reply;
  };
  const auto back = from_fields(bulk("float"), bulk("0.1"));
  ASSERT_TRUE(back);
  double read = 0;
  std::memcpy(&read, back->bytes.data(), 8);
  EXPECT_EQ(read, 0.1);
  const auto infinite = from_fields(bulk("float"), bulk("-inf"));
  std::memcpy(&read, infinite->bytes.data(), 8);
  EXPECT_TRUE(std::isinf(read) && read < 0);
  EXPECT_FALSE(from_fields(Reply{}, Reply{}));  // a missing key
  EXPECT_THROW(from_fields(bulk("set"), bulk("x")), std::runtime_error);
}

}  // namespace
}  // namespace hornbeam::redis
