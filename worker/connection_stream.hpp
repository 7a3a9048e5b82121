#pragma once

// A client connection's byte stream, plain or TLS, as one type: the HTTP/1.1 session and the
// WebSocket session are written once against it (Beast's advanced_server_flex does the same
// with two session types; one type with a branch per operation keeps one copy of each
// session). What only a plain socket allows (send(2) from the context's thread, sendfile(2))
// asks `encrypted()` first. Included only by the Beast translation units.

#include "worker/drain_aware_read.hpp"
#include "worker/tls_socket.hpp"

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <utility>

namespace hornbeam::worker {

using Protocol = boost::asio::generic::stream_protocol;

class ConnectionStream {
 public:
  using executor_type = Protocol::socket::executor_type;
  using next_layer_type = Protocol::socket;

  explicit ConnectionStream(Protocol::socket socket) : plain_(std::move(socket)) {}
  // After its handshake. Held by pointer: its pending operations refer to it, and the
  // connection moves (to a WebSocket session) while one may be pending.
  explicit ConnectionStream(std::unique_ptr<TlsSocket> tls)
      : plain_(tls->socket().get_executor()), tls_(std::move(tls)) {}

  bool encrypted() const { return tls_ != nullptr; }
  TlsSocket* tls() { return tls_.get(); }
  // The TCP (or unix) socket underneath: addresses, waits, shutdown, close.
  Protocol::socket& socket() { return tls_ ? tls_->socket() : plain_; }
  next_layer_type& next_layer() { return socket(); }
  executor_type get_executor() { return plain_.get_executor(); }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    plain_.async_read_some(buffers, std::forward<Handler>(handler));
  }
  // The same for a request head. With `read_again_at_once` (the next read will start as soon
  // as this thread has sent the response, when the client has rarely answered yet), a read
  // on a plain socket that empties it makes that next read wait for readiness instead of
  // trying recv(2) first (drain_aware_read.hpp).
  template <class Handler>
  void async_read_head_bytes(boost::asio::mutable_buffer buffer, bool read_again_at_once,
                             Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffer, std::forward<Handler>(handler));
    if (read_again_at_once) return drain_aware_read(plain_, buffer, std::forward<Handler>(handler));
    plain_.async_read_some(buffer, std::forward<Handler>(handler));
  }
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    ++writes_begun_;
    if (tls_) return tls_->async_write_some(buffers, std::forward<Handler>(handler));
    plain_.async_write_some(buffers, std::forward<Handler>(handler));
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    return tls_ ? tls_->write_some(buffers, ec) : plain_.write_some(buffers, ec);
  }

  // What the connection holds now, read into `data` without waiting (recv(2) with
  // MSG_DONTWAIT, or OpenSSL on its non-blocking socket; outside Asio: called only while no
  // read is pending on the connection). 0 when nothing waits, at the end of the stream or on
  // an error: the next asynchronous read then finds out which.
  std::size_t read_now(void* data, std::size_t size) {
    if (tls_) return tls_->read_now(data, size);
    if (size == 0) return 0;
    const ssize_t got = ::recv(plain_.native_handle(), data, size, MSG_DONTWAIT);
    return got > 0 ? static_cast<std::size_t>(got) : 0;
  }

  // TLS only: what the socket takes now (TlsSocket::try_write).
  std::optional<std::size_t> try_write(std::string_view bytes) { return tls_->try_write(bytes); }

  // Whether the client took any of what it is sent since the last look (limits.send_timeout):
  // fewer bytes wait in the socket's send queue (SIOCOUTQ: not yet acknowledged by a TCP
  // peer, not yet read by a unix-socket one), or a write part began (a composed write begins
  // each part once the one before was taken; sendfile says so with note_write_began). Whether
  // the socket is writable says less: a full send buffer (megabytes, as Linux sizes it for a
  // fast link) is writable again only once a third of it is free, which a client reading
  // slowly but steadily may take minutes to free.
  bool took_bytes_since_last_look() {
    int queued = 0;
    const bool known = ::ioctl(socket().native_handle(), SIOCOUTQ, &queued) == 0;
    const bool took = writes_begun_ != writes_seen_ || (known && queued < queued_seen_);
    writes_seen_ = writes_begun_;
    queued_seen_ = known ? queued : 0;
    return took;
  }
  void note_write_began() { ++writes_begun_; }

 private:
  Protocol::socket plain_;  // the connection itself when plain; unused (closed) under TLS
  std::unique_ptr<TlsSocket> tls_;
  std::uint64_t writes_begun_ = 0;  // see took_bytes_since_last_look
  std::uint64_t writes_seen_ = 0;
  int queued_seen_ = 0;
};

// How Beast's websocket::stream<ConnectionStream> closes the connection (found by ADL). Under
// TLS: close_notify if the socket takes it, then the socket goes (the close frames were the
// goodbye that counts).
inline void teardown(boost::beast::role_type role, ConnectionStream& stream,
                     boost::system::error_code& ec) {
  if (stream.encrypted()) return stream.tls()->shutdown_and_close(ec);
  boost::beast::websocket::teardown(role, stream.socket(), ec);
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, ConnectionStream& stream,
                    TeardownHandler&& handler) {
  if (stream.encrypted()) {
    boost::system::error_code ec;
    stream.tls()->shutdown_and_close(ec);
    return boost::asio::post(
        stream.get_executor(),
        [handler = std::forward<TeardownHandler>(handler), ec]() mutable { handler(ec); });
  }
  boost::beast::websocket::async_teardown(role, stream.socket(),
                                          std::forward<TeardownHandler>(handler));
}

}  // namespace hornbeam::worker
