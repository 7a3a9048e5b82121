#pragma once

// The opening handshake's own fields, judged before the app is called (RFC 6455 §4.2.1): a
// client that cannot complete the handshake gets its answer from the server, never a
// websocket.connect that the app would accept in vain.

#include <optional>
#include <string>
#include <string_view>

namespace hornbeam::worker {

struct HandshakeRefusal {
  int status;       // 400, or 426 for a version the server does not speak (it names 13)
  std::string why;  // for the log line
};

// `key` and `version` as the request's Sec-WebSocket-Key and Sec-WebSocket-Version fields
// (empty when absent).
std::optional<HandshakeRefusal> refuse_websocket_handshake(std::string_view key,
                                                           std::string_view version);

}  // namespace hornbeam::worker
