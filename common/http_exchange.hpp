#pragma once

// What crosses between the I/O side (Beast, worker/) and the protocol adapters (python/):
// a parsed request, and a sink the adapter writes the response into. Neither side sees the
// other's library.

#include "common/unique_fd.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam {

struct HttpHeader {
  std::string name;
  std::string value;
};

// Why a streamed body cannot be read to its end: what RequestBodySource's reads throw.
class RequestBodyError : public std::runtime_error {
 public:
  enum class Cause {
    client_gone,        // the connection ended mid-body
    malformed,          // the client's framing is broken (a bad chunk, a forbidden trailer)
    too_large,          // over limits.max_body_size
    response_complete,  // the response ended before the app read the rest
    timed_out,          // the client sent nothing for limits.body_timeout while the app read
  };
  RequestBodyError(Cause cause, const std::string& what)
      : std::runtime_error(what), cause_(cause) {}
  Cause cause() const { return cause_; }

 private:
  Cause cause_;
};

// A request body that is still arriving (large, chunked or behind `Expect: 100-continue`).
// Read from a context thread, without the GIL: read() waits for the network.
class RequestBodySource {
 public:
  virtual ~RequestBodySource() = default;
  // Up to `max` bytes (at least one), or "" at the end of the body. Throws RequestBodyError
  // when the client went away, its body is malformed or broke a limit.
  virtual std::string read(std::size_t max) = 0;
  // The same into `out` (wsgi.input.read(n) fills its bytes object directly): the number of
  // bytes written, 0 at the end of the body.
  virtual std::size_t read_into(char* out, std::size_t max) = 0;
  // The next `size` bytes into `out`, fewer only when the body ends first (wsgi.input.read(n)):
  // where the server can, read from the socket straight into `out`.
  virtual std::size_t read_fully_into(char* out, std::size_t size) = 0;

  // How many bytes of the body the app has not read yet, where the server knows (a
  // Content-Length body): wsgi.input.read() then makes one bytes object of that size.
  virtual std::optional<std::uint64_t> unread_length() const = 0;

  // The event-loop flavour (ASGI), which never blocks: how many of the bytes that have
  // arrived a read of `max` would take now (read_into() then takes them without waiting, so
  // the app's bytes object is made that size and filled straight from the arrived blocks),
  // 0 at the end of the body, or nullopt when nothing is here yet (the waker will be called
  // when something comes). Throws like read().
  virtual std::optional<std::size_t> try_available(std::size_t max) = 0;
  // Called from the I/O thread whenever bytes arrive, the body ends or reading fails. Set it
  // before the first try_available().
  virtual void set_waker(std::function<void()> waker) = 0;
  // The event-loop flavour of read_fully_into (ASGI's receive()): lends `out` (`room` bytes,
  // at least smallest_lend) for the socket's next reads: what has arrived by then goes in,
  // when nothing has arrived before it and the server can read into it (false: use
  // try_available()); the caller keeps it alive and in place until lent_back() answers.
  virtual bool lend(char* out, std::size_t room) = 0;
  // Below this, memory is not lent: the socket would be read in pieces of the app's size
  // (read(100) in a loop: a system call per 100 bytes) instead of whole blocks.
  static constexpr std::size_t smallest_lend = 16 * 1024;
  // Whether lend() can ever take memory (asked before making some).
  virtual bool may_lend() const = 0;
  // After lend(): nullopt while the I/O side may still write into the memory; then how many
  // bytes it holds (0: it was not used; read as usual).
  virtual std::optional<std::size_t> lent_back() = 0;
  // The I/O side refused the body, the client's fault: malformed (400) or not sent within
  // limits.body_timeout (408). It has answered (or cut a started response) and logged why.
  // Whatever the app then does (raise, return, answer) is not the app's error: adapters
  // neither log it nor answer for it.
  virtual bool refused() const = 0;
};

// What a TLS connection negotiated, and who its client certificate names (mTLS): read once per
// connection after the handshake, shared by its requests.
struct TlsSession {
  std::string protocol;        // "TLSv1.3"
  int version = 0;             // 0x0304 (the ASGI tls extension's tls_version)
  std::string cipher;          // OpenSSL's name: "TLS_AES_256_GCM_SHA384"
  int cipher_id = 0;           // the IANA number (the ASGI extension's cipher_suite)
  std::string client_verify;   // "NONE" (no certificate), "SUCCESS"
  std::string client_subject;  // RFC 4514: "CN=alice,O=Example"
  std::string client_issuer;
  std::string client_cert_pem;  // "" without a client certificate
};

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: "/a%20b?x=1" or absolute-form
  std::string path;    // raw (still percent-encoded), without the query
  std::string query;
  int version = 11;                 // 10, 11 or 20 (HTTP/2)
  std::vector<HttpHeader> headers;  // names as sent, in order
  std::string body;                 // the whole body, unless body_stream is set
  std::shared_ptr<RequestBodySource> body_stream;
  std::string remote_addr;
  std::uint16_t remote_port = 0;
  std::string server_name;
  std::uint16_t server_port = 0;
  std::string url_scheme = "http";
  std::shared_ptr<const TlsSession> tls;  // null on a plain connection
  int mount = 0;  // which of the worker's apps serves it (config::served_apps' order)
};

// The response of one request. Called from a context thread; implementations hand the bytes
// to the I/O thread and never run Python.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // "200 OK" and headers already validated and stripped of hop-by-hop fields.
  virtual void start(std::string status, std::vector<HttpHeader> headers) = 0;
  // Queues body bytes; blocks while the client's buffer is full. False once the client is gone.
  // `more_follows`: the app's whole body is already known (a list), so the I/O thread need not
  // be woken for these bytes alone: finish() or the next write will (one thread switch saved).
  virtual bool write(std::string_view data, bool more_follows) = 0;
  // write() when there is room now, never waiting: a context that holds the GIL can queue a
  // body without giving the GIL up (and taking it back) around a wait that does not happen.
  enum class TryWrite { written, no_room, client_gone };
  virtual TryWrite try_write(std::string_view data, bool more_follows) = 0;
  // Queues `length` bytes of a regular file from `offset`, sent with sendfile(2) by the I/O
  // side; the sink owns the descriptor from here on. False once the client is gone.
  virtual bool send_file(UniqueFd file, std::uint64_t offset, std::uint64_t length) = 0;
  // The response is complete.
  virtual void finish() = 0;
  // The same, ending a chunked body with these trailer fields (dropped when the body is not
  // chunked: a Content-Length response or HTTP/1.0 has nowhere to put them).
  virtual void finish_with_trailers(const std::vector<HttpHeader>& trailers) = 0;
  // Nothing was started and the app failed: answer with this status.
  virtual void fail(int status) = 0;
  // The response was started and cannot be completed: cut the connection, no clean end.
  virtual void abort() = 0;

  // The event-loop flavour (ASGI): these never block. A loop writes, then asks for room
  // before writing more.
  // Queues body bytes whatever is already waiting. False once the client is gone.
  virtual bool write_nowait(std::string_view data) = 0;
  // send_file without waiting; one file per response. False once the client is gone.
  virtual bool send_file_nowait(UniqueFd file, std::uint64_t offset, std::uint64_t length) = 0;
  // True when the client has taken enough that more may be written (or is gone); otherwise
  // false, and the waker will be called once it has.
  virtual bool has_room_or_notify() = 0;
  virtual bool client_gone() const = 0;
  // Called from the I/O thread when room frees up after has_room_or_notify() said no, and
  // when the client leaves (once watch_for_disconnect() asked it to look). Set it before
  // writing.
  virtual void set_waker(std::function<void()> waker) = 0;
  // The app waits for the client's disconnect (an ASGI receive() after the body): the I/O
  // side watches the idle connection from now on, so that a client that leaves is noticed
  // before anything is written to it.
  virtual void watch_for_disconnect() = 0;
  // The request's header fields, once the adapter has made the app's copy of them (the
  // environ, the scope): the connection reads its next request into the same vector and
  // strings, so that their memory is not freed on this thread and allocated again on the I/O
  // thread for every request. A sink that has no use for them drops them.
  virtual void return_fields(std::vector<HttpHeader> fields) { (void)fields; }
};

// A request on its way to the app's thread, queued as it is (a std::function closure holding
// it would be an allocation and two more moves of its strings per request).
struct DispatchedRequest {
  HttpRequest request;
  std::shared_ptr<ResponseSink> sink;
};

}  // namespace hornbeam
