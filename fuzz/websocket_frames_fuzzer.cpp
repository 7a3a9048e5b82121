// The WebSocket frame path as websocket_session.cpp configures it: a Beast websocket::stream
// that accepted a handshake (with permessage-deflate when the input's first byte says so),
// reading whatever frames the input holds until it fails or ends. The client's bytes travel
// through a real socket pair, as in the worker.

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using Socket = asio::local::stream_protocol::socket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool compress = data[0] & 1;
  asio::io_context io;
  Socket server(io);
  Socket client(io);
  asio::local::connect_pair(server, client);
  // Room for a whole input and the server's answers: no write here ever waits.
  const int buffer = 1 << 20;
  ::setsockopt(server.native_handle(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  ::setsockopt(client.native_handle(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);

  http::request<http::empty_body> request{http::verb::get, "/", 11};
  request.set(http::field::host, "fuzz");
  request.set(http::field::upgrade, "websocket");
  request.set(http::field::connection, "upgrade");
  request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  request.set(http::field::sec_websocket_version, "13");
  if (compress) request.set(http::field::sec_websocket_extensions, "permessage-deflate");

  websocket::stream<Socket&> ws(server);
  constexpr std::size_t max_message = 64 * 1024;
  ws.read_message_max(max_message);
  if (compress) {
    websocket::permessage_deflate deflate;
    deflate.server_enable = true;
    ws.set_option(deflate);
  }
  beast::error_code ec;
  ws.accept(request, ec);
  if (ec) return 0;

  asio::write(client, asio::buffer(data + 1, size - 1), ec);
  client.shutdown(Socket::shutdown_send, ec);
  for (int messages = 0; messages < 1000; ++messages) {
    // The worker's buffer: a string bounded at read_message_max plus one.
    std::string message;
    auto buffer = asio::dynamic_buffer(message, max_message + 1);
    ws.read(buffer, ec);
    if (ec) break;
    if (message.size() > max_message) std::abort();  // the limit must hold
    // What the worker does with a message: hand it over as text or bytes, then echo it.
    ws.text(ws.got_text());
    ws.write(asio::buffer(message), ec);
    if (ec) break;
  }
  return 0;
}
