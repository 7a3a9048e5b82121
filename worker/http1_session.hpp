#pragma once

// HTTP/1.1 on one client connection (worker/http1_session.cpp). Included only by the Beast
// translation units.

#include "worker/connection_stream.hpp"
#include "worker/server_state.hpp"

#include <memory>
#include <optional>

namespace hornbeam::worker {

// Serves HTTP/1.1 on `connection` until it closes (or switches to WebSocket or HTTP/2).
// `tls`: what the handshake negotiated, on a TLS connection; `proxied`: the ends its PROXY
// header named, read before that handshake. A plain connection reads its own PROXY header.
void start_http1(ServerState& server, ConnectionStream connection,
                 std::shared_ptr<const TlsSession> tls = nullptr,
                 std::optional<ProxiedEnds> proxied = std::nullopt);

}  // namespace hornbeam::worker
