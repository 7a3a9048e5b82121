#pragma once

// HTTP/2 (RFC 9113) on one client connection, with nghttp2 as the framing layer: each stream
// is one request for the same dispatch as HTTP/1.1's (the context pool does not know the
// difference), its response comes back through a ResponseChannel in HTTP/2 mode, and flow
// control carries the backpressure both ways (a slow reader holds a bounded response; an
// upload's window reopens only as the app reads it). Reached by ALPN `h2` on a TLS bind, by
// the client preface on a plain bind (h2c with prior knowledge), or by `Upgrade: h2c`.
// Included only by the Beast translation units.

#include "worker/connection_stream.hpp"
#include "worker/server_state.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace hornbeam::worker {

// Who the connection is with, as the HTTP/1.1 session worked it out (PROXY protocol included).
struct Http2Peer {
  std::pair<std::string, std::uint16_t> remote;
  std::pair<std::string, std::uint16_t> local;
  bool trusted = false;  // in forwarded_allow_ips: its proxy headers are believed
  std::shared_ptr<const TlsSession> tls;
};

// An HTTP/1.1 request that asked `Upgrade: h2c` (with no body): it becomes stream 1.
struct Http2Upgrade {
  HttpRequest request;
  bool head_request = false;
  std::string settings;  // the HTTP2-Settings field, base64url-decoded
};

// The client preface begins "PRI * HTTP/2.0\r\n\r\n", which an HTTP/1.1 parser sees as a
// request head: `head` is such a head.
bool is_http2_preface_head(std::string_view head);

// Decodes HTTP2-Settings (base64url without padding); nullopt if it is not that.
std::optional<std::string> decode_http2_settings(std::string_view field);

// Serves HTTP/2 on `connection` until it closes. `received`: bytes already read from the
// client (the preface, and whatever followed it). `upgrade`: the request that switched.
void start_http2(ServerState& server, ConnectionStream connection, Http2Peer peer,
                 std::string received, std::optional<Http2Upgrade> upgrade = std::nullopt);

}  // namespace hornbeam::worker
