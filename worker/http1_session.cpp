// The HTTP/1.1 session of one client connection (plain or TLS): reads each request within
// the configured limits, streams large bodies, hands the request to the contexts, writes the
// response the channel receives, and turns a connection over to WebSocket or HTTP/2 when the
// client asks. Beast/Asio live in the worker's translation units only (see
// ../shared/TOOLCHAIN.md on build time).

#include "worker/http1_session.hpp"

#include "common/http_text.hpp"
#include "common/logging.hpp"
#include "worker/access_log.hpp"
#include "worker/chunked_decoder.hpp"
#include "worker/connection_stream.hpp"
#include "worker/http2_session.hpp"
#include "worker/mount_router.hpp"
#include "worker/proxy_headers.hpp"
#include "worker/proxy_protocol.hpp"
#include "worker/request_body_stream.hpp"
#include "worker/request_head_check.hpp"
#include "worker/request_target.hpp"
#include "worker/response_channel.hpp"
#include "worker/send_now.hpp"
#include "worker/server_state.hpp"
#include "worker/websocket_handshake.hpp"
#include "worker/websocket_session.hpp"

#include <spdlog/logger.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace hornbeam::worker {
namespace {

constexpr std::size_t stream_high_water = 256 * 1024;
// One read of a streamed Content-Length body: below glibc's default mmap threshold (so
// blocks come from the heap, not fresh pages) and a quarter of the high-water mark.
constexpr std::size_t body_read_size = 64 * 1024;
constexpr std::size_t websocket_high_water = 1 << 20;
// While the worker drains, a kept-alive connection may still bring one more request this long
// after its last response (a client under load sends it within milliseconds; closing the
// moment it looks idle would race with it and fail it). That request gets `Connection: close`.
constexpr config::Duration drain_linger = std::chrono::seconds(1);
// A response that leaves part of a request body unread: how long and how much more input is
// read and dropped before the connection closes (linger_then_close).
constexpr config::Duration linger_time = std::chrono::seconds(2);
constexpr std::size_t linger_bytes = 4 << 20;

// The largest request head the limits allow: request line plus every field at its largest.
std::size_t head_limit(const config::Limits& limits) {
  return static_cast<std::size_t>(std::min<std::int64_t>(
      limits.max_request_line + 2 + limits.max_headers * (limits.max_header_size + 2) + 2,
      0x7fffffff));
}

class Session final : public std::enable_shared_from_this<Session>,
                      public Flushable,
                      public ServedConnection {
 public:
  Session(ServerState& server, ConnectionStream connection,
          std::shared_ptr<const TlsSession> tls = nullptr)
      : server_(server),
        connection_(std::move(connection)),
        tls_(std::move(tls)),
        timer_(server.io),
        buffer_(head_limit(server.config.limits)) {
    server_.connections.insert(this);
  }
  ~Session() { server_.connections.erase(this); }

  void start(std::optional<ProxiedEnds> proxied) {
    // Once per connection, not per request.
    beast::error_code ignored;
    remote_ = endpoint_address(connection_.socket().remote_endpoint(ignored));
    local_ = endpoint_address(connection_.socket().local_endpoint(ignored));
    if (proxied) {
      remote_ = std::move(proxied->remote);
      local_ = std::move(proxied->local);
    }
    trust_peer();
    // Under TLS the PROXY header came before the handshake (http_server.cpp read it).
    if (server_.proxy_protocol != ProxyProtocol::off && !connection_.encrypted()) {
      arm_timer(server_.config.limits.header_timeout);
      return read_proxy_header();
    }
    read_head(true);
  }

  // Stopping: a kept-alive connection idle between requests closes unless a request arrives
  // within drain_linger; one busy with a request, or still receiving its first one, is served
  // and then closed (graceful_timeout bounds both).
  void drain() override {
    if (!busy_ && idle_) arm_timer(std::min(drain_linger, server_.config.keepalive));
  }

  // The arbiter is replacing this worker because the app is stuck: a request whose response
  // has not started gets a 504, then the connection closes; one mid-response is cut.
  void time_out() override {
    if (!channel_) return close();
    if (channel_->fail_unstarted(504)) {
      logging::error_log().error("answered 504 to {}:{}: the worker timed out running its request",
                                 remote_.first, remote_.second);
      return flush();
    }
    cut();
  }

  // Fast stop: close() wakes any context waiting on this client.
  void cut() override { close(); }

  // I/O thread: write what the context handed over; at the end, next request or close.
  void flush() override {
    if (channel_ && channel_->take_watch_request()) watch_for_disconnect();
    if (writing_ || !channel_) return;
    auto batch = channel_->take();
    if (batch.file) {
      begin_writing();
      response_begun_ = true;
      auto file = std::make_shared<ResponseChannel::FileSegment>(std::move(*batch.file));
      // then flush() takes what follows and the end
      return connection_.encrypted() ? read_file_piece(file) : send_file_piece(file);
    }
    if (batch.bytes.empty()) {
      if (batch.complete) finish_response(batch);
      return;
    }
    response_begun_ = true;
    // Most batches fit the socket's buffer: one send(2) (or SSL_write) here, instead of an
    // asynchronous write whose completion would be posted through the event loop. Only a rest
    // goes the long way.
    const auto sent = connection_.encrypted()
                          ? connection_.try_write(batch.bytes)
                          : send_now(connection_.socket().native_handle(), batch.bytes);
    if (!sent) return close();
    if (*sent == batch.bytes.size()) {
      if (batch.complete) {
        if (batch.bytes.capacity() <= ResponseChannel::reused_buffer_limit)
          spare_bytes_ = std::move(batch.bytes);  // the next response's buffer
        return finish_response(batch);
      }
      // What is queued behind these bytes (a file) takes its turn after other connections',
      // as after an asynchronous write.
      asio::post(server_.io, [self = shared_from_this()] { self->flush(); });
      return;
    }
    batch.bytes.erase(0, *sent);
    write_async(std::move(batch.bytes));
  }

 private:
  std::string peer_name() const { return remote_.first + ":" + std::to_string(remote_.second); }

  // Whether the client's forwarding headers are believed (forwarded_allow_ips). A unix-socket
  // peer is trusted, as Gunicorn does: only a local proxy can reach it.
  void trust_peer() {
    peer_trusted_ = remote_.first.empty() || server_.trusted_proxies.contains(remote_.first);
  }

  // proxy_protocol: a peer in proxy_allow_ips begins with a PROXY header naming the client;
  // any other peer must not send one (it could name anyone), and is served as it is.
  void read_proxy_header() {
    const std::string_view seen(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    const auto header = parse_proxy_header(seen, server_.proxy_protocol);
    const bool from_proxy = remote_.first.empty() || server_.proxy_peers.contains(remote_.first);
    const auto drop = [&](const std::string& why) {
      logging::error_log().warn("closed the connection from {}:{}: {}", remote_.first,
                                remote_.second, why);
      close();
    };
    switch (header.status) {
      case ProxyHeader::Status::more: {
        if (buffer_.size() >= buffer_.max_size()) return drop("no end to its PROXY header");
        const std::size_t room = std::min<std::size_t>(512, buffer_.max_size() - buffer_.size());
        connection_.async_read_some(
            buffer_.prepare(room),
            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
              self->buffer_.commit(n);
              if (ec) return self->close();
              self->read_proxy_header();
            });
        return;
      }
      case ProxyHeader::Status::malformed: return drop(header.why);
      case ProxyHeader::Status::absent:
        if (from_proxy) return drop("no PROXY protocol header, and the peer is in proxy_allow_ips");
        return read_head(true);
      case ProxyHeader::Status::complete:
        if (!from_proxy) return drop("a PROXY protocol header from a peer not in proxy_allow_ips");
        buffer_.consume(header.size);
        if (!header.source_addr.empty()) {  // else a health check: the proxy is the client
          remote_ = {header.source_addr, header.source_port};
          local_ = {header.destination_addr, header.destination_port};
          trust_peer();
        }
        return read_head(true);
    }
  }

  void read_head(bool first) {
    busy_ = false;
    first_head_ = first;
    head_parser_.reset();  // made only for a head that needs it (on_head)
    whole_parser_.reset();
    stream_parser_.reset();
    body_left_ = 0;
    chunked_.reset();
    stream_.reset();
    const auto& limits = server_.config.limits;
    // Between requests the connection may idle for `keepalive`; from the first byte of a head
    // on, one deadline covers the whole head (slow-loris clients are cut however they drip).
    idle_ = !first && buffer_.size() == 0;
    const auto idle_deadline = server_.draining ? std::min(drain_linger, server_.config.keepalive)
                                                : server_.config.keepalive;
    arm_timer(idle_ ? idle_deadline : limits.header_timeout);
    scanned_ = 0;
    read_more_head();
  }

  // Reads until the blank line that ends the head is in buffer_ (it may be there already,
  // pipelined behind the previous request). asio::async_read_until would copy a Beast
  // flat_buffer instead of filling it, hence this loop.
  void read_more_head() {
    // RFC 9112 §2.2: empty lines before a request line are ignored (a client may end a body
    // with a CRLF it did not count, as old browsers did after a POST). A drip of them is
    // still cut by the head's deadline, armed at the first byte.
    while (buffer_.size() >= 2 &&
           std::string_view(static_cast<const char*>(buffer_.data().data()), 2) == "\r\n") {
      buffer_.consume(2);
      scanned_ = 0;
    }
    const std::string_view seen(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    const auto end = seen.find("\r\n\r\n", scanned_ > 3 ? scanned_ - 3 : 0);
    // A complete head's bare LF is check_request_head's to refuse (with the same answer); an
    // incomplete one's is refused now, since a head of bare LFs never shows its end.
    if (end != std::string_view::npos) return on_head({}, end + 4);
    if (find_bare_lf(seen, scanned_) != std::string_view::npos) {
      busy_ = true;
      return reject(400, "bare LF in the request head");
    }
    scanned_ = seen.size();
    if (buffer_.size() >= buffer_.max_size()) return on_head(asio::error::not_found, 0);
    const std::size_t room = std::min<std::size_t>(16 * 1024, buffer_.max_size() - buffer_.size());
    // An event loop's response is sent by this thread, which then reads at once; a context
    // sends its own, and this thread reads later (dispatch). The connection's last app says
    // which this one will be.
    const bool read_again_at_once = server_.apps[static_cast<std::size_t>(mount_)].asgi;
    connection_.async_read_head_bytes(
        buffer_.prepare(room), read_again_at_once,
        [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          self->buffer_.commit(n);
          if (ec) return self->on_head(ec, 0);
          if (self->idle_ && n > 0) {
            self->idle_ = false;
            self->arm_timer(self->server_.config.limits.header_timeout);
          }
          self->read_more_head();
        });
  }

  // When the app waits for its client to leave (ASGI's receive() after the body, in a long
  // poll or an event stream), the connection is watched (a wait, which takes no bytes) so
  // that a client that leaves is noticed at once. Bytes that arrive meanwhile (a pipelined
  // request) end the watch: they are the next request's. Only on request: for a request
  // answered at once the wait would cost a syscall and a wake-up for nothing.
  void watch_for_disconnect() {
    if (watching_ || !channel_ || body_unfinished()) return;
    // A pipelined request read ahead under TLS (TlsInput) is bytes too.
    if (auto* tls = connection_.tls(); tls && tls->has_buffered_input()) return;
    watching_ = true;
    // Under TLS the bytes peeked at are a record's, which is as good: bytes, or the end.
    connection_.socket().async_wait(
        Protocol::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
          self->watching_ = false;
          auto& socket = self->connection_.socket();
          if (ec == asio::error::operation_aborted || !socket.is_open()) return;
          char byte = 0;
          const ssize_t peeked =
              ec ? -1 : ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (peeked > 0) return;  // a pipelined request: not a disconnect
          if (peeked < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return self->watch_for_disconnect();
          }
          if (self->channel_) self->close();  // end of stream or error: the client left mid-request
        });
  }

  // The raw head is in buffer_: judge it strictly, then let Beast parse it from the buffer.
  void on_head(beast::error_code ec, std::size_t head_size) {
    busy_ = true;
    if (ec == asio::error::not_found) return refuse_oversized_head();
    if (ec) return refuse(ec);
    const std::string_view head(static_cast<const char*>(buffer_.data().data()), head_size);
    // h2c with prior knowledge: the client preface instead of a first request.
    if (first_head_ && is_http2_preface_head(head) && server_.config.http2.enabled &&
        !connection_.encrypted()) {
      return switch_to_http2(
          std::string(static_cast<const char*>(buffer_.data().data()), buffer_.size()),
          std::nullopt);
    }
    if (const auto verdict = check_request_head(head, server_.config.limits, &fields_);
        verdict.status) {
      return reject(verdict.status, verdict.reason);
    }
    drop_underscore_fields(fields_, remote_);
    origin_ =
        RequestOrigin{remote_.first, remote_.second, connection_.encrypted() ? "https" : "http",
                      local_.first, local_.second};
    if (peer_trusted_) {
      if (const auto verdict = apply_proxy_headers(fields_, origin_, server_.trusted_proxies);
          !verdict.ok) {
        return reject(400, verdict.reason);
      }
    }
    const RequestLine line = request_line_of(head);
    client_keep_alive_ = wants_keep_alive(line.version, fields_);
    if (is_plain_bodiless(fields_)) return dispatch_bodiless(line, head.size());
    // A body, an upgrade or an Expect: Beast reads the head too, and frames what follows.
    head_parser_.emplace();
    head_parser_->header_limit(static_cast<std::uint32_t>(head_limit(server_.config.limits)));
    // Each app has its own limit, known once the target is routed (checked below).
    head_parser_->body_limit(boost::none);
    beast::error_code parse_error;
    buffer_.consume(head_parser_->put(asio::buffer(buffer_.data().data(), head_size), parse_error));
    if (parse_error || !head_parser_->is_header_done()) {
      return refuse(parse_error ? parse_error : http::error::partial_message);
    }
    const auto& message = head_parser_->get();
    mount_ = server_.route(raw_path(message.target(), message.method() == http::verb::connect));
    if (mount_ < 0) return answer_without_app(make_request(message));
    const auto& app = server_.apps[static_cast<std::size_t>(mount_)];
    if (server_.dispatch_websocket && app.asgi && beast::websocket::is_upgrade(message)) {
      if (const auto refusal =
              refuse_websocket_handshake(message[http::field::sec_websocket_key],
                                         message[http::field::sec_websocket_version])) {
        return reject(refusal->status, refusal->why);
      }
      return start_websocket_request();
    }
    expect_continue_ =
        message.version() == 11 && beast::iequals(message[http::field::expect], "100-continue");
    const auto length = head_parser_->content_length();
    if (length && app.max_body_size && *length > app.max_body_size) {
      return reject(413, "body larger than " + app.body_limit_name);
    }
    // Small bodies are read whole before the app runs; large, chunked and 100-continue ones
    // stream, and the app reads them as they arrive.
    if (head_parser_->chunked() || expect_continue_ ||
        (length && *length >= server_.config.limits.body_buffer_threshold)) {
      return start_streaming(length ? *length : 0);
    }
    if (head_parser_->is_done()) {  // no body: no read to wait for (and no completion to post)
      const auto& message_head = head_parser_->get();
      if (auto upgrade = h2c_upgrade(message_head)) {
        return switch_to_http2(
            std::string(static_cast<const char*>(buffer_.data().data()), buffer_.size()),
            std::move(upgrade));
      }
      return dispatch(make_request(message_head), client_keep_alive_);
    }
    whole_parser_.emplace(std::move(*head_parser_));
    whole_parser_->body_limit(body_limit());
    http::async_read(connection_, buffer_, *whole_parser_,
                     [self = shared_from_this()](beast::error_code read_error, std::size_t) {
                       self->on_body(read_error);
                     });
  }

  // Most requests: no body, no upgrade, no 100-continue (is_plain_bodiless). check_request_head
  // read every byte of the head already, so Beast's second reading of it is skipped: a parser
  // made, fed and destroyed cost about 1.4 k of a WSGI hello world's 24 k instructions.
  void dispatch_bodiless(const RequestLine& line, std::size_t head_size) {
    mount_ = server_.route(raw_path(line.target, line.method == "CONNECT"));
    HttpRequest request = make_request(line.method, line.target, line.version);
    buffer_.consume(head_size);  // `line` points into it: not used after this
    if (mount_ < 0) return answer_without_app(std::move(request));
    expect_continue_ = false;
    dispatch(std::move(request), client_keep_alive_);
  }

  // `Upgrade: h2c` with HTTP2-Settings, on a plain connection, with no body, when
  // http2.h2c_upgrade allows it (RFC 7540 §3.2): the request becomes HTTP/2's stream 1.
  std::optional<Http2Upgrade> h2c_upgrade(const http::request_header<>& message) {
    if (!server_.config.http2.enabled || !server_.config.http2.h2c_upgrade ||
        connection_.encrypted() || message.version() != 11 ||
        !beast::iequals(message[http::field::upgrade], "h2c")) {
      return std::nullopt;
    }
    const auto settings = message["HTTP2-Settings"];
    auto decoded = decode_http2_settings(settings);
    if (!decoded) return std::nullopt;  // served as HTTP/1.1, which the client must accept
    Http2Upgrade upgrade{make_request(message), message.method() == http::verb::head,
                         std::move(*decoded)};
    std::erase_if(upgrade.request.headers, [](const HttpHeader& field) {
      return beast::iequals(field.name, "upgrade") || beast::iequals(field.name, "connection") ||
             beast::iequals(field.name, "http2-settings");
    });
    for (auto& field : upgrade.request.headers) field.name = ascii_lowercase(field.name);
    return upgrade;
  }

  // The connection speaks HTTP/2 from here on: the HTTP/2 session takes the socket and what
  // was read (`received`), and this session ends.
  void switch_to_http2(std::string received, std::optional<Http2Upgrade> upgrade) {
    stop_timer();
    handed_over_ = true;
    start_http2(server_, std::move(connection_), Http2Peer{remote_, local_, peer_trusted_, tls_},
                std::move(received), std::move(upgrade));
  }

  // An upgrade to WebSocket (ASGI): the app decides. Accepting hands the socket over to a
  // websocket session (upgrade()); refusing answers through the response channel as usual.
  void start_websocket_request() {
    upgrade_request_.emplace(head_parser_->release());
    websocket_ = std::make_shared<WebSocketChannel>(websocket_high_water);
    auto weak = weak_from_this();
    websocket_->set_io_waker([weak, this] {
      asio::post(server_.io, [weak, this] {
        if (auto self = weak.lock()) upgrade();
      });
    });
    HttpRequest request = make_request(*upgrade_request_);  // its scheme: ws or wss, from http(s)
    dispatch(std::move(request), false);
  }

  // The app accepted: the 101 and everything after it belong to the websocket session.
  void upgrade() {
    if (!websocket_ || !channel_) return;
    auto action = websocket_->next_action();
    if (!action || !std::holds_alternative<WebSocketAccept>(*action)) return;
    count_response(101);
    write_access_line(101);
    channel_.reset();  // the refusal path is closed: the loop will not answer through it
    stop_timer();
    start_websocket(std::move(connection_), std::move(*upgrade_request_), std::move(websocket_),
                    std::get<WebSocketAccept>(std::move(*action)), server_.config.websocket,
                    server_.config.limits.send_timeout, server_.websockets, peer_name());
    upgrade_request_.reset();
    const auto keep = release_app_hold();  // this session ends here
  }

  // The body limit of the app the request was routed to (0 in the config: none).
  boost::optional<std::uint64_t> body_limit() const {
    const auto limit = server_.apps[static_cast<std::size_t>(mount_)].max_body_size;
    return limit ? boost::optional<std::uint64_t>(limit) : boost::optional<std::uint64_t>();
  }

  // No app is mounted at the request's path (mounts without one at `/`): 404, as an answer
  // (in the access log, not a refusal in the error log).
  void answer_without_app(HttpRequest request) {
    // Counted under the first app's kind, as refusals before routing are: mount_ indexes
    // ServerState::apps from here on (-1 would read before its first entry).
    mount_ = 0;
    request.mount = 0;
    open_exchange(request, client_keep_alive_);
    channel_->fail(404);
    flush();
  }

  // `length`: the Content-Length (on_head checked it against the limit); unused when chunked.
  void start_streaming(std::uint64_t length) {
    disarm_timer();
    stream_parser_.emplace(std::move(*head_parser_));
    stream_parser_->body_limit(body_limit());
    if (stream_parser_->chunked()) {
      const auto& limits = server_.config.limits;
      chunked_.emplace(ChunkedDecoder::Limits{
          .max_body_size = server_.apps[static_cast<std::size_t>(mount_)].max_body_size,
          .max_trailer_line = static_cast<std::size_t>(limits.max_header_size),
          .max_trailer_fields = static_cast<std::size_t>(limits.max_headers)});
    } else {
      body_left_ = length;
    }
    auto weak = weak_from_this();
    stream_ = std::make_shared<RequestBodyStream>(stream_high_water, [weak, this] {
      asio::post(server_.io, [weak, this] {
        if (auto self = weak.lock()) read_body_piece();
      });
    });
    HttpRequest request = make_request(stream_parser_->get());
    if (!chunked_) stream_->set_content_length(length);
    request.body_stream = stream_;
    dispatch(std::move(request), client_keep_alive_);
  }

  // I/O thread: read more of a streamed body while the app wants it and there is room.
  void read_body_piece() {
    if (!stream_ || stream_reading_) return;
    // A Content-Length body read to its end ends at once, not when the app next asks.
    if (!chunked_ && body_left_ == 0 && stream_->app_started_reading()) return stream_->end();
    if (!stream_->wants_more()) return;
    if (expect_continue_) {
      expect_continue_ = false;
      // The app is reading the body, so the client may send it now: unless the response has
      // begun already (then the client sends the body anyway or gives up).
      if (!response_begun_) {
        static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
        beast::error_code ignored;
        asio::write(connection_, asio::buffer(continue_line), ignored);
      }
    }
    if (chunked_) return read_chunked_piece();
    // The app waits with its own memory (wsgi.input.read(n), ASGI's receive()) and nothing is
    // buffered before it: the body's bytes go there, what came with the head first.
    if (auto target = stream_->take_target()) {
      const auto count = static_cast<std::size_t>(
          std::min<std::uint64_t>({buffer_.size(), body_left_, target->room_left()}));
      if (count > 0) {
        std::memcpy(target->next(), buffer_.data().data(), count);
        buffer_.consume(count);
        body_left_ -= count;
        target->add(count);
      }
      return go_on_filling(std::move(*target));
    }
    // A Content-Length body needs no parsing: what came with the head goes first, then the
    // socket's bytes are read into a block that the stream takes as it is (no copy on this
    // side; the app's bytes object is made from it).
    if (buffer_.size() > 0) {
      const auto count =
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), body_left_));
      stream_->push(std::string_view(static_cast<const char*>(buffer_.data().data()), count));
      buffer_.consume(count);
      body_left_ -= count;
      return read_body_piece();
    }
    stream_reading_ = true;
    if (!block_.bytes) block_ = BodyBlock::with_room(body_read_size);
    const auto room = static_cast<std::size_t>(std::min<std::uint64_t>(body_read_size, body_left_));
    await_body_bytes();
    connection_.async_read_some(asio::buffer(block_.bytes.get(), room),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                  self->on_body_bytes(ec, n);
                                });
  }

  void on_body_bytes(beast::error_code ec, std::size_t n) {
    stream_reading_ = false;
    body_bytes_came();
    if (lingering_) return ec ? close() : drain_input();
    if (!stream_) return;
    if (n > 0) {
      body_left_ -= n;
      if (n >= body_read_size / 4) {  // handed over as it is
        block_.size = n;
        stream_->push_block(std::move(block_));
        block_ = {};
      } else {  // a trickle: copied into a block of its size (the buffered bytes bound the memory)
        stream_->push(std::string_view(block_.bytes.get(), n));
      }
      if (body_left_ == 0) block_ = {};  // 64 KiB per connection only while a body streams
    }
    if (ec) {  // a Content-Length body has no framing to break: the client left
      return stream_->fail(RequestBodyError::Cause::client_gone,
                           "client disconnected: " + ec.message());
    }
    read_body_piece();
  }

  // Reads into the app's memory until it is full or the body is over (a lent bytes object:
  // until bytes came and the socket has no more now), then gives it back.
  void go_on_filling(BodyTargetLease&& target) {
    if (target.filled() > 0 && !lingering_ && stream_) take_what_is_waiting(target);
    if (!lingering_ && stream_ && body_left_ > 0 && target.room_left() > 0 &&
        (target.wants_it_full() || target.filled() == 0)) {
      stream_reading_ = true;
      const auto room =
          static_cast<std::size_t>(std::min<std::uint64_t>(target.room_left(), body_left_));
      await_body_bytes();
      connection_.async_read_some(asio::buffer(target.next(), room),
                                  [self = shared_from_this(), target = std::move(target)](
                                      beast::error_code ec, std::size_t n) mutable {
                                    self->on_target_bytes(std::move(target), ec, n);
                                  });
      return;
    }
    // The end first: the reader then wakes once, with its bytes and the end.
    if (!lingering_ && stream_ && body_left_ == 0) stream_->end();
    target.give_back();
    if (lingering_) return drain_input();
    read_body_piece();
  }

  // What else the socket holds now goes in too, without a wait: on loopback every read that
  // opens the window pulls more of the client's pending bytes in. So a lent bytes object comes
  // back with all that had arrived (one http.request message, one wake-up of the loop, instead
  // of one per read), and one being filled needs fewer trips through the reactor.
  void take_what_is_waiting(BodyTargetLease& target) {
    while (body_left_ > 0 && target.room_left() > 0) {
      const std::size_t got = connection_.read_now(
          target.next(),
          static_cast<std::size_t>(std::min<std::uint64_t>(target.room_left(), body_left_)));
      if (got == 0) return;
      body_left_ -= got;
      target.add(got);
    }
  }

  void on_target_bytes(BodyTargetLease&& target, beast::error_code ec, std::size_t n) {
    stream_reading_ = false;
    body_bytes_came();
    body_left_ -= n;
    target.add(n);
    if (!ec) return go_on_filling(std::move(target));
    target.give_back();
    if (lingering_) return close();
    if (!stream_) return;
    // A Content-Length body has no framing to break: the client left.
    stream_->fail(RequestBodyError::Cause::client_gone, "client disconnected: " + ec.message());
  }

  // A chunked body: decoded by our strict decoder (chunked_decoder.hpp), not Beast's parser.
  // What is already in buffer_ (sent with the head, or left by the last read) goes first.
  void read_chunked_piece() {
    if (buffer_.size() > 0) return decode_chunked();
    stream_reading_ = true;
    const std::size_t room = std::min<std::size_t>(64 * 1024, buffer_.max_size());
    await_body_bytes();
    connection_.async_read_some(
        buffer_.prepare(room), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          self->stream_reading_ = false;
          self->body_bytes_came();
          self->buffer_.commit(n);
          if (self->lingering_) return ec ? self->close() : self->drain_input();
          if (!self->stream_) return;
          if (ec) {
            return self->stream_->fail(RequestBodyError::Cause::client_gone,
                                       "client disconnected: " + ec.message());
          }
          self->decode_chunked();
        });
  }

  void decode_chunked() {
    const std::string_view input(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    piece_.clear();
    buffer_.consume(chunked_->decode(input, piece_, 64 * 1024));
    if (!piece_.empty()) stream_->push(piece_);
    switch (chunked_->outcome()) {
      case ChunkedDecoder::Outcome::more: return read_body_piece();
      case ChunkedDecoder::Outcome::done: std::string().swap(piece_); return stream_->end();
      case ChunkedDecoder::Outcome::too_large: return refuse_large_body();
      case ChunkedDecoder::Outcome::malformed: return refuse_body(chunked_->why());
    }
  }

  // Whether the request's body still has bytes on the wire (streamed, not read to its end).
  bool body_unfinished() const {
    if (chunked_) return chunked_->outcome() != ChunkedDecoder::Outcome::done;
    return stream_parser_ && body_left_ > 0;
  }

  // Over the body limit while the app reads: its read fails, and the answer is a 413.
  void refuse_large_body() {
    if (channel_) channel_->set_failure_status(413);
    const auto& limit = server_.apps[static_cast<std::size_t>(mount_)].body_limit_name;
    logging::error_log().warn("request body larger than {}: reading stopped", limit);
    stream_->fail(RequestBodyError::Cause::too_large, "request body larger than " + limit);
  }

  // The client's body is malformed (a bad chunk, a forbidden trailer): its fault, not the
  // app's. The app's read fails (hornbeam.BadRequestBody; ASGI: http.disconnect), and the
  // client gets 400 whatever the app then does; a response already under way is cut instead.
  void refuse_body(const std::string& why) {
    // The 400 first: once the stream fails, the app's failure races to answer 500.
    const bool answered = channel_ && channel_->fail_unstarted(400);
    stream_->fail(RequestBodyError::Cause::malformed, why);
    if (answered) {
      logging::error_log().warn("refused the body of a request from {}:{} with 400: {}",
                                remote_.first, remote_.second, why);
      return;  // the 400 is on its way (flush), then the connection closes
    }
    logging::error_log().warn(
        "malformed body from {}:{} after the response had started ({}): the connection was closed",
        remote_.first, remote_.second, why);
    close();
  }

  // The head did not end within the size limits: a request line without its CRLF within
  // max_request_line is a 414, anything else a 431.
  void refuse_oversized_head() {
    const std::string_view seen(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    const auto line_end = seen.find("\r\n");
    if (line_end == std::string_view::npos ||
        static_cast<std::int64_t>(line_end) > server_.config.limits.max_request_line) {
      return reject(414, "request line longer than limits.max_request_line");
    }
    reject(431, "request head larger than limits.max_headers x limits.max_header_size");
  }

  void on_body(beast::error_code ec) {
    disarm_timer();
    if (ec) return refuse(ec);
    auto message = whole_parser_->release();  // never chunked: those stream
    HttpRequest request = make_request(message);
    request.body = std::move(message.body());
    dispatch(std::move(request), client_keep_alive_);
  }

  // The request as the adapters see it: trailers (fields after the head's) are left out.
  HttpRequest make_request(const http::request_header<>& message) {
    return make_request(message.method_string(), message.target(), message.version());
  }
  HttpRequest make_request(std::string_view method, std::string_view target, int version) {
    HttpRequest request;
    request.method = std::string(method);
    request.target = std::string(target);
    split_target(target, method == "CONNECT", request);
    request.version = version;
    request.headers = std::move(fields_);
    if (const auto authority = absolute_form_authority(target, method == "CONNECT");
        !authority.empty()) {
      use_as_host(request.headers, authority);
    }
    request.remote_addr = origin_.client_addr;
    request.remote_port = origin_.client_port;
    request.server_name = origin_.server_name;
    request.server_port = origin_.server_port;
    request.url_scheme = origin_.scheme;
    request.tls = tls_;
    request.mount = mount_;
    return request;
  }

  void dispatch(HttpRequest&& request, bool keep_alive) {
    open_exchange(request, keep_alive);
    if (websocket_) return server_.dispatch_websocket(std::move(request), channel_, websocket_);
    // The context may write the response to the socket itself (ResponseChannel::DirectSends):
    // an event loop only its large bodies. Under TLS it writes through the connection's SSL
    // object, which this thread leaves alone until the response ends (it reads the next
    // request only then, and watches the socket, not SSL). Not while a body streams under TLS
    // (this thread reads it through SSL) or after Expect: 100-continue (this thread may still
    // write the 100).
    const bool asgi = server_.apps[static_cast<std::size_t>(mount_)].asgi;
    const auto what = server_.contexts_send_directly && !asgi
                          ? ResponseChannel::DirectSends::whole_responses_and_large_bodies
                          : ResponseChannel::DirectSends::large_bodies;
    if (!stream_ || (!expect_continue_ && !connection_.tls())) {
      if (auto* tls = connection_.tls()) {
        channel_->send_directly_through(
            [tls](std::initializer_list<std::string_view> pieces) {
              return tls->try_write(pieces);
            },
            what);
      } else {
        channel_->send_directly_to(connection_.socket().native_handle(), what);
      }
    }
    server_.dispatch(std::move(request), channel_);
  }

  // The request's response channel, its access-log entry, and the session's hold while the
  // answer is made.
  void open_exchange(const HttpRequest& request, bool keep_alive) {
    disarm_timer();
    exchange_started_ = std::chrono::steady_clock::now();
    access_pending_ = logging::access_log() != nullptr;
    if (access_pending_) {
      access_ = AccessEntry{};
      access_.remote_addr = request.remote_addr;
      access_.method = request.method;
      access_.target = request.target;
      access_.version = request.version;
      access_.started = std::chrono::system_clock::now();
      access_.tls = tls_.get();
      if (server_.access_format.uses_request_headers()) request_headers_ = request.headers;
    }
    ResponseFraming framing;
    framing.head_request = request.method == "HEAD";
    framing.http_version = request.version;
    framing.client_keep_alive =
        keep_alive && server_.config.keepalive.count() > 0 && !server_.draining;
    framing.keep_headers = logging::access_log() && server_.access_format.uses_response_headers();
    response_begun_ = false;
    if (spare_channel_) {
      channel_ = std::move(spare_channel_);
      channel_->reopen(framing, std::move(spare_bytes_));
    } else {
      // Converted once here: a weak_ptr converts to its base by locking, which per wake-up
      // would cost two more atomic operations per response.
      std::weak_ptr<Flushable> weak = weak_from_this();
      channel_ = std::make_shared<ResponseChannel>(
          framing, response_high_water, [weak, &flushes = server_.flushes] { flushes.push(weak); });
    }
    hold_while_the_app_answers();
  }

  // While the app runs nothing else refers to this session: it keeps itself alive until the
  // response ends or the connection closes. The server counts such exchanges.
  void hold_while_the_app_answers() {
    if (!in_flight_) ++server_.exchanges_with_contexts;
    in_flight_ = shared_from_this();
  }
  std::shared_ptr<Session> release_app_hold() {
    if (in_flight_) --server_.exchanges_with_contexts;
    return std::move(in_flight_);
  }

  // The long way: the bytes are written as the socket takes them, then flush() again.
  void write_async(std::string bytes) {
    auto kept = std::make_shared<std::string>(std::move(bytes));
    asio::async_write(connection_, asio::buffer(*kept),
                      [self = shared_from_this(), kept](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->close();
                        self->flush();
                      });
    // After the write's first part began (its handler runs later, never from in here): what
    // that part put in the send queue is not the client's progress.
    begin_writing();
  }

  // Under TLS a file is read and written through the stream, 64 KiB at a time.
  void read_file_piece(std::shared_ptr<ResponseChannel::FileSegment> file) {
    if (file->length == 0) {
      writing_ = false;
      return flush();
    }
    auto piece =
        std::make_shared<std::string>(std::min<std::uint64_t>(file->length, 64 * 1024), '\0');
    const ssize_t got =
        ::pread(file->file.get(), piece->data(), piece->size(), static_cast<off_t>(file->offset));
    if (got <= 0) {
      writing_ = false;
      logging::error_log().error("reading the response's file failed: {}; the response was cut",
                                 got == 0 ? "it is shorter than it was" : std::strerror(errno));
      return close();
    }
    piece->resize(static_cast<std::size_t>(got));
    file->offset += static_cast<std::uint64_t>(got);
    file->length -= static_cast<std::uint64_t>(got);
    asio::async_write(connection_, asio::buffer(*piece),
                      [self = shared_from_this(), piece, file](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->writing_ = false;
                          return self->close();
                        }
                        self->read_file_piece(file);
                      });
  }

  // sendfile(2) until the segment is out, waiting for the socket whenever it is full.
  void send_file_piece(std::shared_ptr<ResponseChannel::FileSegment> file) {
    beast::error_code ec;
    auto& socket = connection_.socket();
    socket.native_non_blocking(true, ec);
    bool sent_any = false;
    while (!ec && file->length > 0) {
      off_t offset = static_cast<off_t>(file->offset);
      const ssize_t sent = ::sendfile(socket.native_handle(), file->file.get(), &offset,
                                      std::min<std::uint64_t>(file->length, 1 << 30));
      if (sent > 0) {
        file->offset += static_cast<std::uint64_t>(sent);
        file->length -= static_cast<std::uint64_t>(sent);
        sent_any = true;
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // The client made room for these bytes (limits.send_timeout's looks).
        if (sent_any) connection_.note_write_began();
        socket.async_wait(Protocol::socket::wait_write,
                          [self = shared_from_this(), file](beast::error_code wait_error) {
                            if (wait_error) {
                              self->writing_ = false;
                              return self->close();
                            }
                            self->send_file_piece(file);
                          });
        return;
      }
      // 0 bytes: the file is shorter than it was (truncated under us); anything else: an error.
      ec = sent == 0 ? beast::error_code(asio::error::eof)
                     : beast::error_code(errno, beast::system_category());
    }
    writing_ = false;
    if (ec) {
      logging::error_log().error("sendfile failed: {}; the response was cut", ec.message());
      return close();
    }
    flush();
  }

  void finish_response(const ResponseChannel::Batch& batch) {
    ++server_.requests_since_trim;
    count_response(batch.status);
    write_access_line(batch.status);
    // The fields vector the next head is read into, with its strings' memory (return_fields).
    if (auto fields = channel_->take_returned_fields(); fields.capacity() > fields_.capacity())
      fields_ = std::move(fields);
    // Nobody else holds the channel (the app let its sink go): the next response reuses it.
    if (channel_.use_count() == 1 && channel_->reusable())
      spare_channel_ = std::move(channel_);
    else
      channel_.reset();
    if (websocket_) {  // the app refused the upgrade with this response
      websocket_->finish({1006, ""});
      websocket_.reset();
      upgrade_request_.reset();
      return close();
    }
    const auto keep = release_app_hold();
    // A body the app did not read to the end is still on the wire: the connection cannot be
    // reused without reading it, and a client that sends gigabytes should not make us read them.
    const bool body_left = body_unfinished();
    if (stream_)
      stream_->fail(RequestBodyError::Cause::response_complete, "the response is complete");
    if (batch.cut) return close();
    if (body_left || (!batch.keep_alive && batch.status >= 400)) return linger_then_close();
    if (!batch.keep_alive) return close();
    if (buffer_.size() == 0) {
      // The response has only just left (this thread sent an event loop's response a moment
      // ago), so the client's next request is rarely in yet. Asio's read tries recv(2) at
      // once, and an EAGAIN costs a system call for nothing. Reading after the handlers
      // already due (the other flushes of this batch) gives the client that time: ASGI hello
      // world at 50 connections went from 1.94 to 1.42 recv(2) calls per request
      // (docs/performance.md).
      return asio::post(server_.io, [self = shared_from_this()] {
        if (self->connection_.socket().is_open()) self->read_head(false);
      });
    }
    read_head(false);
  }

  // The client may still be sending a body we will not read (a 413, an answer given before
  // the body was read). Closing at once would reset the connection, and the client could lose
  // the response before reading it. So, like nginx's lingering close: stop sending, read and
  // drop what still arrives for a short while (or until the client closes), then close.
  void linger_then_close() {
    beast::error_code ignored;
    connection_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
    arm_timer(linger_time);
    linger_left_ = linger_bytes;
    lingering_ = true;
    if (!stream_reading_) drain_input();  // else the pending body read continues as the drain
  }

  void drain_input() {
    piece_.resize(64 * 1024);
    connection_.async_read_some(asio::buffer(piece_),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                  if (ec || n >= self->linger_left_) return self->close();
                                  self->linger_left_ -= n;
                                  self->drain_input();
                                });
  }

  void count_response(int status) {
    // Refusals before routing count under the first app's kind (mount_ is 0 until routed).
    const bool asgi = server_.apps[static_cast<std::size_t>(mount_)].asgi;
    server_.stats->record_response(asgi ? shm::WorkerStats::asgi : shm::WorkerStats::wsgi, status,
                                   std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - exchange_started_));
  }

  void write_access_line(int status) {
    auto* log = logging::access_log();
    if (!log || !channel_ || !access_pending_) return;  // refused requests are in the error log
    access_pending_ = false;
    access_.status = status;
    access_.body_bytes = channel_->body_bytes();
    access_.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - exchange_started_);
    access_.request_headers = &request_headers_;
    access_.response_headers = &channel_->headers();
    log->info(server_.access_json ? AccessLogFormat::json(access_)
                                  : server_.access_format.text(access_));
  }

  void refuse(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return reject(413, "body larger than " +
                             server_.apps[static_cast<std::size_t>(mount_)].body_limit_name);
    }
    reject(400, ec.message());
  }

  void reject(int status, const std::string& why) {
    disarm_timer();
    exchange_started_ = std::chrono::steady_clock::now();
    logging::error_log().warn("refused a request from {}:{} with {}: {}", remote_.first,
                              remote_.second, status, why);
    ResponseFraming framing;
    channel_ = std::make_shared<ResponseChannel>(framing, response_high_water, [] {});
    channel_->fail(status);
    flush();
  }

  // One deadline at a time (idle, request head, body, linger), and the looks at a write that
  // waits beside it (begin_writing): a slow or idle client is cut when it passes. Per request the
  // deadline only moves later (cancelled when the head is in, then the idle time, then the head's
  // time), so the timer is started again only when the new deadline comes before the wait already
  // armed: a wait that fires early looks at the deadline and waits again. Starting and cancelling
  // the timer on each move was three timer-queue operations and two cancelled waits per request
  // (docs/performance.md).
  void arm_timer(config::Duration duration) {
    awaiting_body_ = false;
    deadline_ = std::chrono::steady_clock::now() + duration;
    if (!timer_waiting_ || timer_.expiry() > std::min(deadline_, send_look_at_)) start_timer();
  }

  void disarm_timer() {
    awaiting_body_ = false;
    deadline_ = no_deadline;
  }

  // A write that waits for the client (the socket is full) is looked at beside the deadline of
  // the moment, four times per limits.send_timeout: a client that takes none of it for that
  // long is cut (nginx's send_timeout). Otherwise it would hold its response's context as
  // long as it likes (under the arbiter, whose `timeout` leaves waits for the client out, for
  // ever).
  void begin_writing() {
    writing_ = true;
    if (send_look_at_ != no_deadline) return;  // already looked at
    connection_.took_bytes_since_last_look();  // from here
    const auto now = std::chrono::steady_clock::now();
    client_took_bytes_at_ = now;
    send_look_at_ = now + send_look_interval();
    if (!timer_waiting_ || timer_.expiry() > send_look_at_) start_timer();
  }
  config::Duration send_look_interval() const {
    return std::max<config::Duration>(server_.config.limits.send_timeout / 4,
                                      std::chrono::milliseconds(10));
  }
  // False when the client was cut.
  bool look_at_send(std::chrono::steady_clock::time_point now) {
    if (!writing_) {
      send_look_at_ = no_deadline;
      return true;
    }
    if (connection_.took_bytes_since_last_look()) {
      client_took_bytes_at_ = now;
    } else if (now - client_took_bytes_at_ >= server_.config.limits.send_timeout) {
      send_timed_out();
      return false;
    }
    send_look_at_ = now + send_look_interval();
    return true;
  }

  void send_timed_out() {
    logging::error_log().warn(
        "the client {}:{} took none of the response for {:g}s (limits.send_timeout): the "
        "connection was closed",
        remote_.first, remote_.second,
        std::chrono::duration<double>(server_.config.limits.send_timeout).count());
    close();
  }

  // The app waits for body bytes the client does not send, and its context waits with it
  // (under the arbiter, until `timeout` replaces the whole worker): after limits.body_timeout
  // without a byte, the client gets 408 and the app's read fails as on a disconnect (nginx's
  // client_body_timeout). Armed before each read of body bytes, disarmed when bytes come.
  void await_body_bytes() {
    arm_timer(server_.config.limits.body_timeout);
    awaiting_body_ = true;
  }
  void body_bytes_came() {
    if (awaiting_body_) disarm_timer();
  }

  void body_timed_out() {
    awaiting_body_ = false;
    const auto waited = std::chrono::duration<double>(server_.config.limits.body_timeout).count();
    const bool answered = channel_ && channel_->fail_unstarted(408);
    logging::error_log().warn(
        "no request body bytes from {}:{} for {:g}s (limits.body_timeout): {}", remote_.first,
        remote_.second, waited, answered ? "answered 408" : "the connection was closed");
    if (stream_) {
      stream_->fail(RequestBodyError::Cause::timed_out,
                    "the client sent no body bytes within limits.body_timeout");
    }
    if (!answered) return close();
    // The pending read may hold the app's memory (a direct read): it comes back now, and the
    // app's read fails. The 408 goes out, then the connection closes.
    beast::error_code ignored;
    connection_.socket().cancel(ignored);
  }

  // The socket is closed or handed over: no wait may outlive it.
  void stop_timer() {
    disarm_timer();
    send_look_at_ = no_deadline;
    timer_waiting_ = false;
    timer_.cancel();
  }

  void start_timer() {
    timer_waiting_ = true;
    // A wait armed before ends with operation_aborted.
    timer_.expires_at(std::min(deadline_, send_look_at_));
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (ec) return;
      const auto self = weak.lock();
      if (!self) return;
      self->timer_waiting_ = false;
      const auto now = std::chrono::steady_clock::now();
      if (now >= self->send_look_at_ && !self->look_at_send(now)) return;
      if (self->deadline_ == no_deadline && self->send_look_at_ == no_deadline) return;
      if (now < self->deadline_) return self->start_timer();
      if (self->awaiting_body_) return self->body_timed_out();
      self->close();  // slow or idle client: cut
    });
  }

  void close() {
    if (handed_over_) return;  // the socket is the HTTP/2 session's
    // First: a context still writing learns the client is gone, and can no longer send to
    // the socket directly (its fd number is free for reuse once closed).
    if (channel_) channel_->close();
    stop_timer();
    beast::error_code ignored;
    connection_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    connection_.socket().close(ignored);
    if (stream_) stream_->fail(RequestBodyError::Cause::client_gone, "client disconnected");
    if (websocket_) websocket_->finish({1006, ""});
    // Released last: this may be the final reference to the session.
    const auto keep = release_app_hold();
  }

  ServerState& server_;
  ConnectionStream connection_;
  std::shared_ptr<const TlsSession> tls_;  // what the handshake negotiated (TLS only)
  asio::steady_timer timer_;
  static constexpr auto no_deadline = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point deadline_ = no_deadline;  // see arm_timer
  bool timer_waiting_ = false;  // a wait on timer_ is pending (it may fire before deadline_)
  // While a write waits for the client: the next look at it, and when it last took bytes.
  std::chrono::steady_clock::time_point send_look_at_ = no_deadline;
  std::chrono::steady_clock::time_point client_took_bytes_at_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> head_parser_;
  std::optional<http::request_parser<http::string_body>> whole_parser_;   // small bodies
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;  // streamed bodies
  std::optional<ChunkedDecoder> chunked_;  // a chunked body's decoder (the parser has its head)
  std::shared_ptr<RequestBodyStream> stream_;
  std::string piece_;            // a chunked body's decoded piece; the bytes a linger drains
  std::uint64_t body_left_ = 0;  // of a streamed Content-Length body, still on the wire
  BodyBlock block_;  // where its next piece is read into (freed only with no read pending)
  bool stream_reading_ = false;
  bool awaiting_body_ = false;  // the deadline is limits.body_timeout's (await_body_bytes)
  bool expect_continue_ = false;
  bool response_begun_ = false;
  std::shared_ptr<ResponseChannel> channel_;
  // The last response's channel when nobody else held it at its end, and the memory of its
  // last bytes written: the next request's (ResponseChannel::reopen).
  std::shared_ptr<ResponseChannel> spare_channel_;
  std::string spare_bytes_;
  std::shared_ptr<Session> in_flight_;
  std::pair<std::string, std::uint16_t> remote_;  // the client's address and port
  std::pair<std::string, std::uint16_t> local_;
  bool peer_trusted_ = false;  // in forwarded_allow_ips: its proxy headers are believed
  RequestOrigin origin_;       // the request's client, scheme and server, proxies considered
  int mount_ = 0;              // the app serving the request (ServerState::apps)
  AccessEntry access_;
  bool access_pending_ = false;  // a dispatched request whose line is still to be written
  std::chrono::steady_clock::time_point exchange_started_;  // of the current request (or refusal)
  std::vector<HttpHeader> request_headers_;  // only when the access log format prints them
  std::size_t scanned_ = 0;  // bytes of buffer_ already searched for the end of the head
  bool idle_ = false;  // a kept-alive connection waiting for the first byte of its next request
  std::vector<HttpHeader> fields_;  // the head's fields in the order sent
  bool client_keep_alive_ = false;  // the head asks to keep the connection (wants_keep_alive)
  std::optional<http::request<http::empty_body>> upgrade_request_;  // a WebSocket handshake...
  std::shared_ptr<WebSocketChannel> websocket_;                     // ...the app is deciding on
  bool writing_ = false;
  bool busy_ = false;
  bool watching_ = false;     // watch_for_disconnect's wait is pending
  bool lingering_ = false;    // linger_then_close: input is read and dropped until the close
  bool first_head_ = false;   // the head being read is the connection's first
  bool handed_over_ = false;  // switch_to_http2: the connection is not this session's any more
  std::size_t linger_left_ = 0;
};

}  // namespace

void start_http1(ServerState& server, ConnectionStream connection,
                 std::shared_ptr<const TlsSession> tls, std::optional<ProxiedEnds> proxied) {
  std::make_shared<Session>(server, std::move(connection), std::move(tls))
      ->start(std::move(proxied));
}

}  // namespace hornbeam::worker
