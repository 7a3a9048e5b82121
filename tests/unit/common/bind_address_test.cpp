#include "common/bind_address.hpp"

#include <gtest/gtest.h>

namespace hornbeam {
namespace {

TEST(BindAddress, ParsesEveryForm) {
  auto v4 = BindAddress::parse("0.0.0.0:8000");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->kind, BindAddress::Kind::tcp);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 8000);

  auto v6 = BindAddress::parse("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->to_string(), "[::1]:0");

  auto named = BindAddress::parse("localhost:80");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->host, "localhost");

  auto unix_socket = BindAddress::parse("unix:/run/hb.sock");
  ASSERT_TRUE(unix_socket);
  EXPECT_EQ(unix_socket->kind, BindAddress::Kind::unix_socket);
  EXPECT_EQ(unix_socket->path, "/run/hb.sock");

  auto fd = BindAddress::parse("fd://3");
  ASSERT_TRUE(fd);
  EXPECT_EQ(fd->kind, BindAddress::Kind::inherited_fd);
  EXPECT_EQ(fd->fd, 3);
  EXPECT_EQ(fd->to_string(), "fd://3");
}

TEST(BindAddress, HttpsMeansTlsAndHttpMeansPlain) {
  auto tls = BindAddress::parse("https://0.0.0.0:8443");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->port, 8443);
  EXPECT_EQ(tls->to_string(), "0.0.0.0:8443") << "the address, which the socket is known by";
  auto tls_unix = BindAddress::parse("https://unix:/run/hb.sock");
  ASSERT_TRUE(tls_unix);
  EXPECT_TRUE(tls_unix->tls);
  EXPECT_EQ(tls_unix->path, "/run/hb.sock");
  auto plain = BindAddress::parse("http://[::1]:80");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls);
  EXPECT_FALSE(BindAddress::parse("127.0.0.1:80")->tls);
}

TEST(BindAddress, APortAloneIsEveryIpv4InterfaceAsInGunicorn) {
  const auto address = BindAddress::parse(":8000");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->to_string(), "0.0.0.0:8000");
  const auto tls = BindAddress::parse("https://:8443");
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->to_string(), "0.0.0.0:8443");
}

TEST(BindAddress, RefusesMalformedOnes) {
  for (const char* text :
       {"", "8000", ":", "host:", "host:65536", "host:-1", "::1:80", "[::1:80", "unix:", "fd://",
        "fd://x", "fd://-1", "a b:80", "https://", "https://fd://3", "ftp://host:80", "[]:80"}) {
    EXPECT_FALSE(BindAddress::parse(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace hornbeam
