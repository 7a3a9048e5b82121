#pragma once

// What crosses between the I/O side and the ASGI adapter for one WebSocket connection. The
// adapter's event loop never blocks on it: it queues what the app sends and takes what the
// client sent, and a waker tells it when something changed.

#include "common/http_exchange.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hornbeam {

struct WebSocketMessage {
  bool binary = false;
  std::string data;
};

struct WebSocketClose {
  int code = 1000;
  std::string reason;
};

class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;

  // The app accepts the handshake: the I/O side answers 101 with these.
  virtual void accept(std::string subprotocol, std::vector<HttpHeader> headers) = 0;
  // Queues a message for the client; false once the connection is over.
  virtual bool send(WebSocketMessage message) = 0;
  // Starts the closing handshake (after accept).
  virtual void close(WebSocketClose close) = 0;
  // True when few enough bytes wait for the client; otherwise false, and the waker will be
  // called once they have gone out (or the connection ended).
  virtual bool has_room_or_notify() = 0;

  // The next message from the client, if one is here.
  virtual std::optional<WebSocketMessage> receive() = 0;
  // How the connection ended, once it has and every message before the end was received.
  virtual std::optional<WebSocketClose> ended() = 0;

  // Called from the I/O thread when a message arrives, room frees up or the connection ends.
  virtual void set_waker(std::function<void()> waker) = 0;
};

}  // namespace hornbeam
