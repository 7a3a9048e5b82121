#pragma once

// The PROXY protocol header (HAProxy's, versions 1 and 2) that a TCP proxy or load balancer
// (HAProxy, AWS NLB, ...) sends before the client's bytes: it gives the client's address and
// port, which the TCP peer (the proxy) cannot. Parsed from the first bytes of a connection.

#include <cstdint>
#include <string>
#include <string_view>

namespace hornbeam::worker {

enum class ProxyProtocol { off, v1, v2 };

struct ProxyHeader {
  enum class Status {
    more,       // the bytes so far could begin a header: read more
    absent,     // the connection does not begin with a header of this version
    complete,   // `size` bytes are the header
    malformed,  // it began as one and is not: `why`
  };
  Status status = Status::more;
  std::size_t size = 0;
  // From the header; empty when it carries no address (v1 UNKNOWN, v2 LOCAL or UNSPEC: a
  // health check), then the TCP peer stands for the client.
  std::string source_addr, destination_addr;
  std::uint16_t source_port = 0, destination_port = 0;
  std::string why;
};

// Looks at the first bytes a connection received for a header of `version` (not off).
ProxyHeader parse_proxy_header(std::string_view received, ProxyProtocol version);

}  // namespace hornbeam::worker
