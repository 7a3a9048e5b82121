#include "worker/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

namespace hornbeam::worker {
namespace {

using Status = ProxyHeader::Status;

constexpr std::string_view v1_signature = "PROXY ";
constexpr std::size_t v1_max_size = 107;  // the spec's bound, CRLF included
constexpr std::string_view v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

ProxyHeader absent() {
  ProxyHeader header;
  header.status = Status::absent;
  return header;
}

ProxyHeader malformed(std::string why) {
  ProxyHeader header;
  header.status = Status::malformed;
  header.why = std::move(why);
  return header;
}

// Whether `received` is, or begins with, `signature`: nullopt while too short to tell.
std::optional<bool> starts_with_signature(std::string_view received, std::string_view signature) {
  const auto seen = std::min(received.size(), signature.size());
  if (received.substr(0, seen) != signature.substr(0, seen)) return false;
  if (seen < signature.size()) return std::nullopt;
  return true;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const auto space = line.find(' ');
    out.push_back(line.substr(0, space));
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  return out;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  // No leading zeros (the spec's ABNF), and within 0-65535.
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value > 65535 ||
      (text.size() > 1 && text.front() == '0')) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

// A numeric address of `family`, normalised ("010.1.1.1" is refused, as inet_pton does).
bool parse_address(std::string_view text, int family, std::string& out) {
  const std::string copy(text);
  unsigned char bytes[16];
  if (inet_pton(family, copy.c_str(), bytes) != 1) return false;
  char normal[INET6_ADDRSTRLEN];
  inet_ntop(family, bytes, normal, sizeof normal);
  out = normal;
  return true;
}

// "PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n", "PROXY UNKNOWN ...\r\n"
ProxyHeader parse_v1(std::string_view received) {
  const auto start = starts_with_signature(received, v1_signature);
  if (!start) return {};
  if (!*start) return absent();
  // The line ends at its first LF, which must follow a CR: deciding on the first LF alone
  // gives the same answer however the bytes arrive (found by the PROXY header fuzzer).
  const auto lf = received.find('\n');
  if (lf == std::string_view::npos) {
    if (received.size() >= v1_max_size) return malformed("PROXY v1 line longer than 107 bytes");
    return {};
  }
  if (lf + 1 > v1_max_size) return malformed("PROXY v1 line longer than 107 bytes");
  if (received[lf - 1] != '\r') return malformed("PROXY v1 line without CRLF");
  const auto end = lf - 1;
  ProxyHeader header;
  header.status = Status::complete;
  header.size = end + 2;
  const auto parts = words(received.substr(v1_signature.size(), end - v1_signature.size()));
  if (!parts.empty() && parts[0] == "UNKNOWN") return header;  // the peer stands for the client
  if (parts.size() != 5 || (parts[0] != "TCP4" && parts[0] != "TCP6"))
    return malformed("PROXY v1 line is not `PROXY TCP4|TCP6 src dst sport dport`");
  const int family = parts[0] == "TCP4" ? AF_INET : AF_INET6;
  if (!parse_address(parts[1], family, header.source_addr) ||
      !parse_address(parts[2], family, header.destination_addr) ||
      !parse_port(parts[3], header.source_port) || !parse_port(parts[4], header.destination_port)) {
    return malformed("PROXY v1 line with a bad address or port");
  }
  return header;
}

std::uint16_t read_be16(const char* bytes) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[0]) << 8) |
                                    static_cast<unsigned char>(bytes[1]));
}

// The 16-byte binary header, then the addresses (and TLVs, skipped).
ProxyHeader parse_v2(std::string_view received) {
  const auto start = starts_with_signature(received, v2_signature);
  if (!start) return {};
  if (!*start) return absent();
  if (received.size() < 16) return {};
  const auto version_command = static_cast<unsigned char>(received[12]);
  const auto family_transport = static_cast<unsigned char>(received[13]);
  const std::size_t length = read_be16(received.data() + 14);
  if ((version_command >> 4) != 2) return malformed("PROXY v2 header of another version");
  const unsigned command = version_command & 0x0f;
  if (command > 1) return malformed("PROXY v2 header with an unknown command");
  if (received.size() < 16 + length) return {};
  ProxyHeader header;
  header.status = Status::complete;
  header.size = 16 + length;
  if (command == 0) return header;  // LOCAL: the proxy's own connection (a health check)
  const char* addresses = received.data() + 16;
  const unsigned family = family_transport >> 4;
  const unsigned transport = family_transport & 0x0f;
  if (family == 0) return header;  // UNSPEC
  if (transport != 1) return malformed("PROXY v2 header for another transport than TCP");
  char text[INET6_ADDRSTRLEN];
  if (family == 1) {  // INET: 4 + 4 + 2 + 2
    if (length < 12) return malformed("PROXY v2 INET header too short");
    header.source_addr = inet_ntop(AF_INET, addresses, text, sizeof text);
    header.destination_addr = inet_ntop(AF_INET, addresses + 4, text, sizeof text);
    header.source_port = read_be16(addresses + 8);
    header.destination_port = read_be16(addresses + 10);
  } else if (family == 2) {  // INET6: 16 + 16 + 2 + 2
    if (length < 36) return malformed("PROXY v2 INET6 header too short");
    header.source_addr = inet_ntop(AF_INET6, addresses, text, sizeof text);
    header.destination_addr = inet_ntop(AF_INET6, addresses + 16, text, sizeof text);
    header.source_port = read_be16(addresses + 32);
    header.destination_port = read_be16(addresses + 34);
  } else if (family != 3) {  // UNIX addresses say nothing useful about a client: kept as LOCAL
    return malformed("PROXY v2 header with an unknown address family");
  }
  return header;
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view received, ProxyProtocol version) {
  return version == ProxyProtocol::v2 ? parse_v2(received) : parse_v1(received);
}

}  // namespace hornbeam::worker
