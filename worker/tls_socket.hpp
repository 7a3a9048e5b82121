#pragma once

// TLS straight on the socket's fd, the way nginx does it: OpenSSL writes the non-blocking
// socket itself (a socket BIO of ours) and reads it through a small input (TlsInput), and an
// operation that would block waits for the socket with Asio, then tries again. Asio's
// ssl::stream instead runs every record through a BIO pair and two 17 KiB buffers of its own,
// and completes every write through the event loop: measured (bench/tls.py), 86 KiB per idle
// connection and 0.68x the plain rate, against 32 KiB and 0.81x here. A response is written at
// once when the socket takes it (try_write), as send_now does for plain connections.
// Included only by the Beast translation units.

#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace hornbeam::worker {

// Ciphertext the socket gave ahead of OpenSSL. A connection waits for its next request with an
// asynchronous read into this (small) buffer: Asio's read waits on the socket's registration
// as it is, where an async_wait re-arms epoll (an epoll_ctl per request), and one recv brings
// a small request's records whole, where OpenSSL reads a record's header and its body apart.
struct TlsInput {
  static constexpr std::size_t capacity = 2048;  // a request head's records, usually
  std::unique_ptr<char[]> bytes = std::make_unique_for_overwrite<char[]>(capacity);
  std::size_t begin = 0, end = 0;
  bool at_end = false;     // the peer closed its side: OpenSSL sees end of file once this is read
  bool streaming = false;  // the last read straight from the socket brought bytes: more wait

  std::string_view buffered() const { return {bytes.get() + begin, end - begin}; }
  void consume(std::size_t count) {
    begin += count;
    if (begin == end) begin = end = 0;
  }
  boost::asio::mutable_buffer free_space() { return {bytes.get() + end, capacity - end}; }
};

// A socket BIO for `fd` (not closing it) that reads through `input` and whose writes never
// raise SIGPIPE.
BIO* tls_socket_bio(int fd, TlsInput& input);

class TlsSocket {
 public:
  using Protocol = boost::asio::generic::stream_protocol;
  using error_code = boost::system::error_code;

  // `socket` is a connection accepted on an https:// bind; `context` outlives the socket.
  TlsSocket(Protocol::socket socket, SSL_CTX* context)
      : socket_(std::move(socket)), ssl_(SSL_new(context)) {
    error_code ignored;
    socket_.native_non_blocking(true, ignored);
    BIO* bio = ssl_ ? tls_socket_bio(socket_.native_handle(), *input_) : nullptr;
    if (!bio) {
      ssl_.reset();
    } else {
      SSL_set_bio(ssl_.get(), bio, bio);
      SSL_set_accept_state(ssl_.get());
      // Partial writes: a record that is out is written, whatever follows (as send(2)).
      SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
  }

  Protocol::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_.get(); }
  // Bytes read from the socket that OpenSSL has not taken yet (a pipelined request's).
  bool has_buffered_input() const { return !input_->buffered().empty(); }

  template <class Handler>
  void async_handshake(Handler&& handler) {
    if (!ssl_) return complete(std::forward<Handler>(handler), boost::asio::error::no_memory);
    const int result = SSL_do_handshake(ssl_.get());
    if (result == 1) return complete(std::forward<Handler>(handler), {});
    retry_or_fail<false>(result, std::forward<Handler>(handler),
                         [this](auto&& again) { async_handshake(std::move(again)); });
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    const auto buffer = first_of<boost::asio::mutable_buffer>(buffers);
    if (buffer.size() == 0) return complete(std::forward<Handler>(handler), {}, 0);
    const auto again = [this, buffers](auto&& next) { async_read_some(buffers, std::move(next)); };
    // Nothing to decrypt anywhere (a keep-alive connection between requests): wait for the
    // socket at once rather than through an SSL_read that must fail.
    if (nothing_to_read()) return wait_for_input<true>(std::forward<Handler>(handler), again);
    const int result = SSL_read(ssl_.get(), buffer.data(), clamp(buffer.size()));
    if (result > 0) return complete(std::forward<Handler>(handler), {}, result);
    retry_or_fail<true>(result, std::forward<Handler>(handler), again);
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    const auto bytes = gather(buffers);
    if (bytes.empty()) return complete(std::forward<Handler>(handler), {}, 0);
    const int result = SSL_write(ssl_.get(), bytes.data(), clamp(bytes.size()));
    if (result > 0) return complete(std::forward<Handler>(handler), {}, result);
    retry_or_fail<true>(result, std::forward<Handler>(handler), [this, buffers](auto&& again) {
      async_write_some(buffers, std::move(again));
    });
  }

  // What OpenSSL can decrypt now without waiting (from the input, or from the non-blocking
  // socket): the bytes read, 0 when it would wait. A failure is left as it is (OpenSSL's
  // error queue included): the next asynchronous read meets it again and reports it.
  std::size_t read_now(void* data, std::size_t size) {
    if (size == 0) return 0;
    const int result = SSL_read(ssl_.get(), data, clamp(size));
    return result > 0 ? static_cast<std::size_t>(result) : 0;
  }

  // Writes what the socket takes now, never waiting: the bytes written (the rest goes through
  // async_write_some, starting with the same bytes as OpenSSL asks of a retry), or nothing
  // when the connection failed.
  std::optional<std::size_t> try_write(std::string_view bytes) {
    std::size_t written = 0;
    while (written < bytes.size()) {
      const auto piece = bytes.substr(written, max_record);
      const int result = SSL_write(ssl_.get(), piece.data(), static_cast<int>(piece.size()));
      if (result > 0) {
        written += static_cast<std::size_t>(result);
        continue;
      }
      const int error = SSL_get_error(ssl_.get(), result);
      if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return written;
      ERR_clear_error();
      return std::nullopt;
    }
    return written;
  }
  // The same for pieces in order (as send_now's).
  std::optional<std::size_t> try_write(std::initializer_list<std::string_view> pieces) {
    std::size_t written = 0;
    for (const auto piece : pieces) {
      const auto took = try_write(piece);
      if (!took) return written ? std::optional<std::size_t>(written) : std::nullopt;
      written += *took;
      if (*took < piece.size()) break;
    }
    return written;
  }

  // A blocking write, for the 100 Continue line (25 bytes, which a socket takes at once).
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, error_code& ec) {
    const auto bytes = gather(buffers);
    ec = {};
    while (!bytes.empty()) {
      const int result = SSL_write(ssl_.get(), bytes.data(), clamp(bytes.size()));
      if (result > 0) return static_cast<std::size_t>(result);
      const int error = SSL_get_error(ssl_.get(), result);
      if (error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ) {
        ec = failure(error);
        return 0;
      }
      socket_.wait(error == SSL_ERROR_WANT_WRITE ? Protocol::socket::wait_write
                                                 : Protocol::socket::wait_read,
                   ec);
      if (!ec && error == SSL_ERROR_WANT_READ) fill_input_now(ec);
      if (ec) return 0;
    }
    return 0;
  }

  // The end of the connection: close_notify if the socket takes it now, then the socket.
  void shutdown_and_close(error_code& ec) {
    if (ssl_ && SSL_is_init_finished(ssl_.get())) {
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
    socket_.shutdown(Protocol::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  static constexpr std::size_t max_record = 16 * 1024;

  struct SslDeleter {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  static int clamp(std::size_t size) { return static_cast<int>(std::min(size, max_record)); }

  template <class Buffer, class Buffers>
  static Buffer first_of(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      if (Buffer(*it).size() > 0) return Buffer(*it);
    }
    return Buffer();
  }

  // Up to one record's worth of the sequence, in one piece: a WebSocket frame's header and
  // payload go out as one record, not two.
  template <class Buffers>
  std::string_view gather(const Buffers& buffers) {
    std::size_t count = 0;
    boost::asio::const_buffer only;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::const_buffer piece(*it);
      if (piece.size() == 0) continue;
      if (++count == 1) only = piece;
    }
    if (count <= 1) {
      return {static_cast<const char*>(only.data()), std::min(only.size(), max_record)};
    }
    scratch_.clear();
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && scratch_.size() < max_record; ++it) {
      const boost::asio::const_buffer piece(*it);
      const auto take = std::min(piece.size(), max_record - scratch_.size());
      scratch_.append(static_cast<const char*>(piece.data()), take);
    }
    return scratch_;
  }

  // The error of a failed call; OpenSSL's error queue is left empty, as SSL_get_error needs it
  // before the next call (emptied here, not before every call: that costs on every record).
  error_code failure(int error) const {
    const error_code ec = describe_failure(error);
    ERR_clear_error();
    return ec;
  }

  error_code describe_failure(int error) const {
    if (error == SSL_ERROR_ZERO_RETURN) return boost::asio::error::eof;
    if (error == SSL_ERROR_SYSCALL) {
      // No error queued and no errno: the peer closed without close_notify.
      if (const unsigned long queued = ERR_peek_error())
        return {static_cast<int>(queued), boost::asio::error::get_ssl_category()};
      return errno ? error_code(errno, boost::system::system_category())
                   : error_code(boost::asio::error::eof);
    }
    const unsigned long queued = ERR_get_error();
    // A client that closes without close_notify (most do, between requests) has left: the
    // same end as a plain connection's, not a protocol error.
    if (ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      return boost::asio::error::eof;
    return queued ? error_code(static_cast<int>(queued), boost::asio::error::get_ssl_category())
                  : error_code(boost::asio::error::connection_aborted);
  }

  // Completions are posted, never run inside the initiating call (Asio's rule, which Beast's
  // composed operations count on).
  template <class Handler, class... Results>
  void complete(Handler&& handler, error_code ec, Results... results) {
    boost::asio::post(socket_.get_executor(),
                      [handler = std::forward<Handler>(handler), ec, results...]() mutable {
                        handler(ec, static_cast<std::size_t>(results)...);
                      });
  }

  // Neither the input nor OpenSSL holds bytes, and OpenSSL has nothing to write first: an
  // SSL_read now could only ask for more.
  bool nothing_to_read() const {
    return input_->buffered().empty() && !input_->at_end && !input_->streaming &&
           !SSL_has_pending(ssl_.get()) && SSL_want(ssl_.get()) != SSL_WRITING;
  }

  // Reads into the (empty) input what the socket has, waiting for it if need be, then starts
  // the operation again. OpenSSL asks to read only once the input is empty
  // (read_through_input).
  template <bool Sized, class Handler, class Again>
  void wait_for_input(Handler&& handler, Again again) {
    socket_.async_read_some(
        input_->free_space(), [this, handler = std::forward<Handler>(handler), again](
                                  error_code ec, std::size_t count) mutable {
          input_->end += count;
          if (ec == boost::asio::error::eof) {
            input_->at_end = true;  // OpenSSL judges it: a close_notify read, or a truncation
            ec = {};
          }
          if (!ec) return again(std::move(handler));
          fail<Sized>(handler, ec);
        });
  }

  // An operation that would block waits for the socket and starts again; any other outcome
  // completes it with the error. `Sized`: the handler takes (error, bytes), else (error).
  template <bool Sized, class Handler, class Again>
  void retry_or_fail(int result, Handler&& handler, Again again) {
    const int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ) {
      return wait_for_input<Sized>(std::forward<Handler>(handler), std::move(again));
    }
    if (error == SSL_ERROR_WANT_WRITE) {
      socket_.async_wait(Protocol::socket::wait_write,
                         [handler = std::forward<Handler>(handler), again](error_code ec) mutable {
                           if (!ec) return again(std::move(handler));
                           fail<Sized>(handler, ec);
                         });
      return;
    }
    if constexpr (Sized) {
      complete(std::forward<Handler>(handler), failure(error), 0);
    } else {
      complete(std::forward<Handler>(handler), failure(error));
    }
  }

  // A waiting operation's end on a failed wait (already a completion: not posted again).
  template <bool Sized, class Handler>
  static void fail(Handler& handler, error_code ec) {
    if constexpr (Sized) {
      handler(ec, std::size_t{0});
    } else {
      handler(ec);
    }
  }

  // The blocking write's wait for the socket to be readable, then what it has, into the input.
  void fill_input_now(error_code& ec) {
    const auto space = input_->free_space();
    const ssize_t got = ::recv(socket_.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
    if (got > 0) {
      input_->end += static_cast<std::size_t>(got);
    } else if (got == 0) {
      input_->at_end = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      ec = error_code(errno, boost::system::system_category());
    }
  }

  Protocol::socket socket_;
  std::unique_ptr<TlsInput> input_ = std::make_unique<TlsInput>();  // the BIO holds its address
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string scratch_;
};

}  // namespace hornbeam::worker
