#include "worker/proxy_protocol.hpp"

#include <gtest/gtest.h>

namespace hornbeam::worker {
namespace {

using Status = ProxyHeader::Status;

const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

std::string v2(unsigned char command, unsigned char family, std::string addresses) {
  std::string header = v2_signature;
  header += static_cast<char>(0x20 | command);
  header += static_cast<char>(family);
  header += static_cast<char>(addresses.size() >> 8);
  header += static_cast<char>(addresses.size() & 0xff);
  return header + addresses;
}

TEST(ProxyProtocol, V1GivesTheClient) {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
  const auto header = parse_proxy_header(line + "GET / HTTP/1.1\r\n", ProxyProtocol::v1);
  ASSERT_EQ(header.status, Status::complete) << header.why;
  EXPECT_EQ(header.size, line.size());
  EXPECT_EQ(header.source_addr, "192.0.2.1");
  EXPECT_EQ(header.source_port, 56324);
  EXPECT_EQ(header.destination_addr, "198.51.100.2");
  EXPECT_EQ(header.destination_port, 443);
  const auto six = parse_proxy_header("PROXY TCP6 2001:db8::1 ::1 1 2\r\n", ProxyProtocol::v1);
  EXPECT_EQ(six.source_addr, "2001:db8::1");
  const auto unknown = parse_proxy_header("PROXY UNKNOWN whatever\r\n", ProxyProtocol::v1);
  EXPECT_EQ(unknown.status, Status::complete);
  EXPECT_TRUE(unknown.source_addr.empty());
}

TEST(ProxyProtocol, V1MoreAbsentMalformed) {
  EXPECT_EQ(parse_proxy_header("PRO", ProxyProtocol::v1).status, Status::more);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4", ProxyProtocol::v1).status, Status::more);
  EXPECT_EQ(parse_proxy_header("POST / HTTP/1.1\r\n", ProxyProtocol::v1).status, Status::absent);
  EXPECT_EQ(parse_proxy_header("GET / HTTP/1.1\r\n", ProxyProtocol::v1).status, Status::absent);
  for (const char* bad :
       {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY TCP4 ::1 ::1 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"}) {
    EXPECT_EQ(parse_proxy_header(bad, ProxyProtocol::v1).status, Status::malformed) << bad;
  }
  EXPECT_EQ(parse_proxy_header("PROXY " + std::string(200, 'x'), ProxyProtocol::v1).status,
            Status::malformed);
  // The first LF decides, whatever follows (a prefix ending there must decide alike).
  EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN a\nb\r\n", ProxyProtocol::v1).status,
            Status::malformed);
  EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN a\rb\r\n", ProxyProtocol::v1).status,
            Status::complete);
}

TEST(ProxyProtocol, V2GivesTheClient) {
  const std::string inet(
      "\xc0\x00\x02\x01"
      "\xc6\x33\x64\x02"
      "\xdc\x04"
      "\x01\xbb",
      12);
  const auto header = parse_proxy_header(v2(1, 0x11, inet) + "GET", ProxyProtocol::v2);
  ASSERT_EQ(header.status, Status::complete) << header.why;
  EXPECT_EQ(header.size, 28u);
  EXPECT_EQ(header.source_addr, "192.0.2.1");
  EXPECT_EQ(header.source_port, 56324);
  EXPECT_EQ(header.destination_port, 443);
  std::string inet6(36, '\0');
  inet6[15] = 1;  // ::1
  inet6[31] = 2;  // ::2
  inet6[33] = 80;
  const auto six = parse_proxy_header(v2(1, 0x21, inet6), ProxyProtocol::v2);
  EXPECT_EQ(six.source_addr, "::1");
  EXPECT_EQ(six.source_port, 80);
  const auto local = parse_proxy_header(v2(0, 0x00, ""), ProxyProtocol::v2);  // a health check
  EXPECT_EQ(local.status, Status::complete);
  EXPECT_TRUE(local.source_addr.empty());
}

TEST(ProxyProtocol, V2MoreAbsentMalformed) {
  const std::string inet(12, '\x01');
  const auto whole = v2(1, 0x11, inet);
  for (std::size_t cut = 0; cut < whole.size(); ++cut)
    EXPECT_EQ(parse_proxy_header(whole.substr(0, cut), ProxyProtocol::v2).status, Status::more);
  EXPECT_EQ(parse_proxy_header("GET / HTTP/1.1\r\n\r\n", ProxyProtocol::v2).status, Status::absent);
  EXPECT_EQ(parse_proxy_header(v2(1, 0x11, "short"), ProxyProtocol::v2).status, Status::malformed);
  EXPECT_EQ(parse_proxy_header(v2(1, 0x12, inet), ProxyProtocol::v2).status,
            Status::malformed);  // UDP
  EXPECT_EQ(parse_proxy_header(v2(5, 0x11, inet), ProxyProtocol::v2).status, Status::malformed);
}

}  // namespace
}  // namespace hornbeam::worker
