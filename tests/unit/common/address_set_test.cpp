#include "common/address_set.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace hornbeam {
namespace {

TEST(AddressSet, AddressesAndRangesOfBothFamilies) {
  const AddressSet set({"127.0.0.1", "10.0.0.0/8", "192.168.1.0/25", "fd00::/8", "::1"});
  EXPECT_TRUE(set.contains("127.0.0.1"));
  EXPECT_FALSE(set.contains("127.0.0.2"));
  EXPECT_TRUE(set.contains("10.255.1.2"));
  EXPECT_FALSE(set.contains("11.0.0.1"));
  EXPECT_TRUE(set.contains("192.168.1.127"));
  EXPECT_FALSE(set.contains("192.168.1.128"));
  EXPECT_TRUE(set.contains("fd12:3456::1"));
  EXPECT_FALSE(set.contains("fe80::1"));
  EXPECT_TRUE(set.contains("::1"));
  EXPECT_TRUE(set.contains("::ffff:10.1.2.3"));  // IPv4 through an IPv6 socket
  EXPECT_TRUE(set.contains("[::1]"));
  EXPECT_FALSE(set.contains("not an address"));
  EXPECT_FALSE(set.contains(""));
}

TEST(AddressSet, EveryoneAndNoOne) {
  EXPECT_TRUE(AddressSet({"*"}).contains("203.0.113.9"));
  EXPECT_FALSE(AddressSet().contains("127.0.0.1"));
  EXPECT_TRUE(AddressSet({"0.0.0.0/0"}).contains("203.0.113.9"));
  EXPECT_FALSE(AddressSet({"0.0.0.0/0"}).contains("2001:db8::1"));  // an IPv4 range is IPv4 only
}

TEST(AddressSet, EntriesAreValidatedAsTheConfigDoes) {
  for (const char* good : {"*", "1.2.3.4", "1.2.3.4/32", "10.0.0.0/8", "::1", "fd00::/8", "::/0"})
    EXPECT_TRUE(AddressSet::is_valid_entry(good)) << good;
  for (const char* bad : {"", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "::1/129", "host", "1.2.3"})
    EXPECT_FALSE(AddressSet::is_valid_entry(bad)) << bad;
  EXPECT_THROW(AddressSet({"10.0.0.0/99"}), std::invalid_argument);
}

}  // namespace
}  // namespace hornbeam
