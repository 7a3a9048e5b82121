#pragma once

// A WebSocket connection after the app accepted it (Boost.Beast's websocket::stream). The
// HTTP session hands its socket over; from then on this moves messages between the socket and
// the connection's WebSocketChannel, pings, and closes. Included only by the two Beast
// translation units.

#include "config/config.hpp"
#include "worker/websocket_channel.hpp"

#include "worker/connection_stream.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <memory>
#include <set>
#include <string>

namespace hornbeam::worker {

class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  virtual void going_away() = 0;  // graceful stop: close with 1001
  virtual void cut() = 0;         // fast stop: drop the connection
};

// Answers the handshake as `accept` says and runs the connection; it registers itself in
// `sessions` for its lifetime, which lasts until the connection ends (whatever ends it), and
// `peer` ("address:port") names it in log lines. A peer that takes none of a frame for
// `send_timeout` (limits.send_timeout) is dropped.
void start_websocket(ConnectionStream connection,
                     boost::beast::http::request<boost::beast::http::empty_body> request,
                     std::shared_ptr<WebSocketChannel> channel, WebSocketAccept accept,
                     const config::WebSocket& settings, config::Duration send_timeout,
                     std::set<WebSocketSession*>& sessions, const std::string& peer);

}  // namespace hornbeam::worker
