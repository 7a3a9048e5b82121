#pragma once

// What a trusted reverse proxy tells about the client: the RFC 7239 `Forwarded` header, or the
// de facto X-Forwarded-For / -Proto / -Host / -Port (and Gunicorn's secure-scheme headers
// X-Forwarded-Ssl and X-Forwarded-Protocol). From a peer in `forwarded_allow_ips` (or a
// unix-socket peer) they replace the request's client address, scheme, host and port, which
// the adapters turn into REMOTE_ADDR, wsgi.url_scheme, HTTP_HOST, SERVER_NAME/SERVER_PORT and
// ASGI's client, scheme, headers and server. From any other peer they pass through untouched.

#include "common/address_set.hpp"
#include "common/http_exchange.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hornbeam::worker {

// Where a request comes from and what it was sent to, as the app will see it.
struct RequestOrigin {
  std::string client_addr;  // "" for a unix-socket peer
  std::uint16_t client_port = 0;
  std::string scheme = "http";  // http or https (a websocket's ws or wss follows from it)
  std::string server_name;
  std::uint16_t server_port = 0;
};

struct ProxyVerdict {
  bool ok = true;      // false: the headers contradict each other; answer 400
  std::string reason;  // why, for the log line
};

// `headers` and `origin` are a request's from a trusted peer: applies what the headers say.
// With `Forwarded` present the X-Forwarded-* headers are ignored. The client is the right-most
// forwarded address that is not itself a trusted proxy (the left-most when all are), so that
// a client cannot pass for anyone by sending the header: only the proxies' additions count.
// A forwarded host replaces the Host field (adding one if there was none).
ProxyVerdict apply_proxy_headers(std::vector<HttpHeader>& headers, RequestOrigin& origin,
                                 const AddressSet& trusted);

// `X_Forwarded_For` and `X-Forwarded-For` become the same CGI name (HTTP_X_FORWARDED_FOR) in
// a WSGI environ and in Django's ASGI META: passing both would let a client's field pass for
// the one a proxy set. Such fields are dropped for WSGI and ASGI apps alike, as nginx does
// (a debug line names each, with the peer's address and port: not made into a string per
// request, as this runs for every request).
void drop_underscore_fields(std::vector<HttpHeader>& fields,
                            const std::pair<std::string, std::uint16_t>& peer);

}  // namespace hornbeam::worker
