#include "worker/proxy_headers.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

struct Applied {
  ProxyVerdict verdict;
  RequestOrigin origin;
  std::vector<HttpHeader> headers;
};

// A request from the proxy at 10.0.0.1 (trusted with 10.0.0.0/8), to 127.0.0.1:8000.
Applied apply(std::vector<HttpHeader> headers, std::vector<std::string> trusted = {"10.0.0.0/8"}) {
  RequestOrigin origin{"10.0.0.1", 40000, "http", "127.0.0.1", 8000};
  const auto verdict = apply_proxy_headers(headers, origin, AddressSet(trusted));
  return {verdict, origin, headers};
}

std::string host_of(const Applied& applied) {
  for (const auto& header : applied.headers)
    if (header.name == "Host") return header.value;
  return "";
}

TEST(ProxyHeaders, NoneLeavesTheRequestAlone) {
  const auto applied = apply({{"Host", "example.com"}});
  EXPECT_TRUE(applied.verdict.ok);
  EXPECT_EQ(applied.origin.client_addr, "10.0.0.1");
  EXPECT_EQ(applied.origin.client_port, 40000);
  EXPECT_EQ(applied.origin.scheme, "http");
  EXPECT_EQ(host_of(applied), "example.com");
}

TEST(ProxyHeaders, TheClientIsTheRightMostUntrustedAddress) {
  // The client sent "6.6.6.6" itself; nginx appended the address it saw, 203.0.113.7.
  auto applied = apply({{"X-Forwarded-For", "6.6.6.6, 203.0.113.7"}});
  EXPECT_EQ(applied.origin.client_addr, "203.0.113.7");
  EXPECT_EQ(applied.origin.client_port, 0);
  // Two trusted proxies in a row: still the first address that is not one of ours.
  applied = apply({{"X-Forwarded-For", "6.6.6.6, 203.0.113.7"}, {"X-Forwarded-For", "10.9.9.9"}});
  EXPECT_EQ(applied.origin.client_addr, "203.0.113.7");
  applied = apply({{"X-Forwarded-For", "10.1.1.1, 10.2.2.2"}});  // all trusted: the left-most
  EXPECT_EQ(applied.origin.client_addr, "10.1.1.1");
  applied = apply({{"X-Forwarded-For", "[2001:db8::7]:4711"}});
  EXPECT_EQ(applied.origin.client_addr, "2001:db8::7");
  EXPECT_EQ(applied.origin.client_port, 4711);
  applied = apply({{"X-Forwarded-For", "garbage"}});  // unreadable: the peer stays the client
  EXPECT_EQ(applied.origin.client_addr, "10.0.0.1");
}

TEST(ProxyHeaders, SchemeHostAndPort) {
  auto applied = apply({{"Host", "internal:8000"},
                        {"X-Forwarded-Proto", "https"},
                        {"X-Forwarded-Host", "shop.example.com"}});
  EXPECT_EQ(applied.origin.scheme, "https");
  EXPECT_EQ(host_of(applied), "shop.example.com");
  EXPECT_EQ(applied.origin.server_name, "shop.example.com");
  EXPECT_EQ(applied.origin.server_port, 443);
  applied = apply({{"X-Forwarded-Host", "shop.example.com"}, {"X-Forwarded-Port", "8443"}});
  EXPECT_EQ(host_of(applied), "shop.example.com:8443");
  EXPECT_EQ(applied.origin.server_port, 8443);
  applied = apply({{"X-Forwarded-Port", "8443"}});
  EXPECT_EQ(applied.origin.server_port, 8443);
  applied = apply({{"X-Forwarded-Host", "bad host/with slash"}});
  EXPECT_EQ(host_of(applied), "");  // refused as a host: nothing changes
  EXPECT_EQ(applied.origin.server_name, "127.0.0.1");
}

TEST(ProxyHeaders, ContradictorySchemeHeadersAre400) {
  EXPECT_FALSE(apply({{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Ssl", "off"}}).verdict.ok);
  EXPECT_TRUE(apply({{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Ssl", "on"}}).verdict.ok);
  EXPECT_EQ(apply({{"X-Forwarded-Protocol", "ssl"}}).origin.scheme, "https");
}

TEST(ProxyHeaders, Rfc7239Forwarded) {
  auto applied = apply({{"Forwarded",
                         "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https;"
                         "host=shop.example.com"},
                        {"X-Forwarded-For", "1.1.1.1"}});  // ignored when Forwarded is there
  ASSERT_TRUE(applied.verdict.ok);
  EXPECT_EQ(applied.origin.client_addr, "2001:db8:cafe::17");
  EXPECT_EQ(applied.origin.client_port, 4711);
  EXPECT_EQ(applied.origin.scheme, "https");
  EXPECT_EQ(host_of(applied), "shop.example.com");
  applied = apply({{"Forwarded", "for=unknown"}});
  EXPECT_EQ(applied.origin.client_addr, "10.0.0.1");
  EXPECT_FALSE(apply({{"Forwarded", "for"}}).verdict.ok);
  EXPECT_FALSE(apply({{"Forwarded", "for=\"unterminated"}}).verdict.ok);
}

}  // namespace
}  // namespace hornbeam::worker
