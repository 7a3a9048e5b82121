#include "worker/websocket_handshake.hpp"

#include <algorithm>

namespace hornbeam::worker {
namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Base64 of 16 bytes: 22 characters and "==".
bool is_sixteen_bytes_in_base64(std::string_view key) {
  return key.size() == 24 && key.ends_with("==") &&
         std::all_of(key.begin(), key.end() - 2, is_base64_char);
}

}  // namespace

std::optional<HandshakeRefusal> refuse_websocket_handshake(std::string_view key,
                                                           std::string_view version) {
  if (version.empty()) return HandshakeRefusal{400, "WebSocket upgrade without a version"};
  if (version != "13") {
    return HandshakeRefusal{
        426, "WebSocket version " + std::string(version) + " (this server speaks 13)"};
  }
  if (key.empty()) return HandshakeRefusal{400, "WebSocket upgrade without Sec-WebSocket-Key"};
  if (!is_sixteen_bytes_in_base64(key))
    return HandshakeRefusal{400, "Sec-WebSocket-Key is not 16 bytes in base64"};
  return std::nullopt;
}

}  // namespace hornbeam::worker
