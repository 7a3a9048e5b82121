// The PROXY protocol header parser (v1 and v2), fed the first bytes of a connection as they
// arrive: every prefix of an input must say "more" exactly until the whole says otherwise, and
// a complete header never claims more bytes than it was given.

#include "worker/proxy_protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace hornbeam::worker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto version = data[0] & 1 ? ProxyProtocol::v2 : ProxyProtocol::v1;
  const std::string_view received(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto whole = parse_proxy_header(received, version);
  if (whole.status == ProxyHeader::Status::complete && whole.size > received.size()) std::abort();
  // Once a prefix decides, every longer input decides alike (bytes arrive in pieces).
  for (std::size_t cut = 0; cut <= received.size(); ++cut) {
    const auto part = parse_proxy_header(received.substr(0, cut), version);
    if (part.status == ProxyHeader::Status::more) continue;
    if (part.status != whole.status || part.size != whole.size) std::abort();
    break;
  }
  return 0;
}
