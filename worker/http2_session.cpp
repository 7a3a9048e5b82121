// Beast/Asio and nghttp2 live in the worker's translation units only.

#include "worker/http2_session.hpp"

#include "common/http_text.hpp"
#include "common/logging.hpp"
#include "worker/proxy_headers.hpp"
#include "worker/request_body_stream.hpp"
#include "worker/request_target.hpp"
#include "worker/response_channel.hpp"
#include "worker/send_now.hpp"

#include <nghttp2/nghttp2.h>
#include <spdlog/logger.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>
#include <vector>

namespace hornbeam::worker {
namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

// What one stream's response may hold while its client reads slowly: in its channel (the
// app's writes wait beyond it) and once more in the stream. Lower than HTTP/1.1's, since a
// connection has up to max_concurrent_streams of them.
constexpr std::size_t stream_response_high_water = 256 * 1024;
constexpr std::size_t read_chunk = 16 * 1024;
constexpr std::size_t write_chunk = 64 * 1024;
// Frames that cost the server and carry no request (SETTINGS, PING, PRIORITY, RST_STREAM,
// empty DATA), and streams refused because the app still runs max_concurrent_streams of the
// connection's requests: a client sending more than this per second is flooding (CVE-2019-9512
// to 9518, CVE-2023-44487 "rapid reset") and is disconnected.
constexpr int control_frames_per_second = 1000;
// How long a connection told to go away (GOAWAY) may take to send what is queued.
constexpr config::Duration goodbye_time = std::chrono::seconds(1);
// While the worker drains, a connection with nothing in flight stays this long for the
// requests already on their way (as HTTP/1.1's drain_linger).
constexpr config::Duration drain_linger = std::chrono::seconds(1);

struct SessionDeleter {
  void operator()(nghttp2_session* session) const { nghttp2_session_del(session); }
};

class Http2Connection;

// One request and its response.
struct Http2Stream final : Flushable {
  Http2Stream(std::int32_t stream_id, std::weak_ptr<Http2Connection> owner)
      : id(stream_id), connection(std::move(owner)) {}
  void flush() override;  // a context handed the response something

  const std::int32_t id;
  const std::weak_ptr<Http2Connection> connection;

  // While the request's header block arrives.
  HttpRequest request;
  std::string authority;
  std::size_t header_list_size = 0;
  int refusal = 0;  // the status it gets without the app (404, 413, 431), 0 if none

  // The exchange.
  std::shared_ptr<ResponseChannel> channel;
  std::shared_ptr<RequestBodyStream> body;  // null: no body, or not read by anyone
  std::uint64_t body_received = 0;
  std::uint64_t body_consumed = 0;  // given back to the flow-control windows
  bool body_ended = false;          // END_STREAM came from the client
  // The last DATA the client sent on it, or the app's first read (limits.body_timeout).
  std::chrono::steady_clock::time_point body_progress;
  bool in_app = false;  // dispatched, and its response not complete
  bool head_submitted = false;
  bool data_deferred = false;  // nghttp2 waits for resume_data
  bool response_complete = false;
  std::string out;  // response bytes taken from the channel, not yet framed
  std::size_t out_offset = 0;
  std::optional<ResponseChannel::FileSegment> file;
  std::vector<HttpHeader> trailers;
  bool open = true;  // nghttp2 has not closed it
  int mount = 0;
  bool head_request = false;
  std::chrono::steady_clock::time_point started;
  AccessEntry access;
  bool access_pending = false;
  std::vector<HttpHeader> request_headers;  // only when the access log format prints them

  bool has_output() const { return out_offset < out.size() || file; }
};

nghttp2_nv field(const std::string& name, const std::string& value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

class Http2Connection final : public std::enable_shared_from_this<Http2Connection>,
                              public ServedConnection {
 public:
  Http2Connection(ServerState& server, ConnectionStream connection, Http2Peer peer)
      : server_(server),
        connection_(std::move(connection)),
        peer_(std::move(peer)),
        timer_(server.io),
        settings_(server.config.http2) {
    server_.connections.insert(this);
  }
  ~Http2Connection() { server_.connections.erase(this); }

  void start(std::string received, std::optional<Http2Upgrade> upgrade) {
    if (!open_session()) return close();
    if (upgrade) {
      // The 101 goes before the server's preface (our SETTINGS).
      pending_output_ =
          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
      auto stream = std::make_shared<Http2Stream>(1, weak_from_this());
      const auto& settings = upgrade->settings;
      if (nghttp2_session_upgrade2(session_.get(),
                                   reinterpret_cast<const std::uint8_t*>(settings.data()),
                                   settings.size(), upgrade->head_request, stream.get()) != 0) {
        return close();
      }
      streams_[1] = stream;
      stream->request = std::move(upgrade->request);
      stream->request.version = 20;
      stream->head_request = upgrade->head_request;
      stream->body_ended = true;
      begin_exchange(*stream);
    }
    if (!received.empty()) on_received(received.data(), received.size());
    if (!session_) return;
    send();
    read();
  }

  // Stopping: GOAWAY now (the client opens no new stream), the streams in flight finish.
  void drain() override {
    if (!session_ || draining_) return;
    draining_ = true;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    send();
  }

  void time_out() override {
    std::vector<std::shared_ptr<Http2Stream>> open;
    for (auto& [id, stream] : streams_) open.push_back(stream);
    for (auto& stream : open) {
      if (stream->channel && stream->channel->fail_unstarted(504)) {
        logging::error_log().error(
            "answered 504 to {} (HTTP/2 stream {}): the worker timed out running its request",
            peer_name(), stream->id);
      }
      update_stream(*stream);
    }
    send();
  }

  void cut() override { close(); }

  // A context handed `stream` something: its response, more of it, or room in its body.
  // The caller holds a reference to `stream` (finishing may drop the connection's).
  void flush_stream(Http2Stream& stream) {
    update_stream(stream);
    send();
  }

 private:
  // What flush_stream does short of writing: also from within nghttp2's callbacks, which
  // must not call back into the session's sending.
  void update_stream(Http2Stream& stream) {
    if (!session_) return;
    give_back_consumed_body(stream);
    if (!stream.has_output()) take_from_channel(stream);
    submit_or_resume(stream);
  }

  // --- the nghttp2 session ---

  bool open_session() {
    nghttp2_session_callbacks* raw_callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&raw_callbacks) != 0) return false;
    std::unique_ptr<nghttp2_session_callbacks, void (*)(nghttp2_session_callbacks*)> callbacks(
        raw_callbacks, nghttp2_session_callbacks_del);
    nghttp2_session_callbacks_set_on_begin_headers_callback(raw_callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(raw_callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(raw_callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw_callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(raw_callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(raw_callbacks, on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(raw_callbacks, on_error);

    nghttp2_option* raw_option = nullptr;
    if (nghttp2_option_new(&raw_option) != 0) return false;
    std::unique_ptr<nghttp2_option, void (*)(nghttp2_option*)> option(raw_option,
                                                                      nghttp2_option_del);
    // Windows reopen as the app reads, not as bytes arrive: that is the upload's backpressure.
    nghttp2_option_set_no_auto_window_update(raw_option, 1);

    nghttp2_session* raw_session = nullptr;
    if (nghttp2_session_server_new2(&raw_session, raw_callbacks, this, raw_option) != 0)
      return false;
    session_.reset(raw_session);
    const std::array<nghttp2_settings_entry, 3> settings = {{
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
         static_cast<std::uint32_t>(settings_.max_concurrent_streams)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
         static_cast<std::uint32_t>(settings_.initial_window_size)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<std::uint32_t>(settings_.max_header_list_size)},
    }};
    if (nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings.data(),
                                settings.size()) != 0) {
      return false;
    }
    // The connection's window: room for a few streams' windows at once (what uploads may
    // hold in this worker's memory, whatever the number of streams).
    const auto connection_window = std::min<std::uint64_t>(
        std::max<std::uint64_t>(settings_.initial_window_size * 4, 1 << 20), 0x7fffffff);
    nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(connection_window));
    return true;
  }

  static Http2Connection& self(void* user_data) {
    return *static_cast<Http2Connection*>(user_data);
  }
  static Http2Stream* stream_of(nghttp2_session* session, std::int32_t id) {
    return static_cast<Http2Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data) {
    auto& connection = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    const std::int32_t id = frame->hd.stream_id;
    // Streams still running in the app count against the limit, even once the client reset
    // them: resetting cannot get a client more work done at once (rapid reset).
    if (connection.streams_in_app_ >= connection.settings_.max_concurrent_streams) {
      // No stream data: its fields and frames are ignored until the reset closes it.
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      connection.count_costly_frame("streams refused while the app was busy (rapid reset)");
      return 0;
    }
    auto stream = std::make_shared<Http2Stream>(id, connection.weak_from_this());
    nghttp2_session_set_stream_user_data(session, id, stream.get());
    stream->request.version = 20;
    connection.streams_[id] = std::move(stream);
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame,
                       const std::uint8_t* name_bytes, std::size_t name_length,
                       const std::uint8_t* value_bytes, std::size_t value_length,
                       std::uint8_t /*flags*/, void* user_data) {
    auto& connection = self(user_data);
    auto* stream = stream_of(session, frame->hd.stream_id);
    if (!stream) return 0;
    // RFC 9113 §6.5.2: each field counts its name, its value and 32. The limit was announced:
    // a client going past it (an HPACK bomb, a CONTINUATION flood) is not a client to serve.
    stream->header_list_size += name_length + value_length + 32;
    if (stream->header_list_size > connection.settings_.max_header_list_size) {
      connection.go_away(NGHTTP2_ENHANCE_YOUR_CALM,
                         "a header list larger than http2.max_header_list_size");
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: left out, as in 1.1
    const std::string_view name(reinterpret_cast<const char*>(name_bytes), name_length);
    std::string value(reinterpret_cast<const char*>(value_bytes), value_length);
    auto& request = stream->request;
    if (!name.empty() && name[0] == ':') {
      // nghttp2 has checked them: each once, before the fields, the ones a request needs.
      if (name == ":method") {
        request.method = std::move(value);
      } else if (name == ":path") {
        request.target = std::move(value);
      } else if (name == ":authority") {
        stream->authority = std::move(value);
      }
      return 0;
    }
    if (static_cast<std::int64_t>(request.headers.size()) >=
        connection.server_.config.limits.max_headers) {
      stream->refusal = 431;
      return 0;
    }
    request.headers.push_back({std::string(name), std::move(value)});
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& connection = self(user_data);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        auto* stream = stream_of(session, frame->hd.stream_id);
        if (!stream) return 0;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          stream->body_ended = end_stream;
          connection.begin_exchange(*stream);
        } else if (end_stream) {  // the trailers end the body
          connection.end_body(*stream);
        }
        return 0;
      }
      case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !end_stream)
          connection.count_costly_frame("empty DATA frames");
        if (end_stream) {
          if (auto* stream = stream_of(session, frame->hd.stream_id)) connection.end_body(*stream);
        }
        return 0;
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) connection.count_costly_frame("SETTINGS frames");
        return 0;
      case NGHTTP2_PING:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) connection.count_costly_frame("PING frames");
        return 0;
      case NGHTTP2_PRIORITY: connection.count_costly_frame("PRIORITY frames"); return 0;
      case NGHTTP2_RST_STREAM: connection.count_costly_frame("RST_STREAM frames"); return 0;
      default: return 0;
    }
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t /*flags*/, std::int32_t id,
                           const std::uint8_t* data, std::size_t length, void* user_data) {
    auto& connection = self(user_data);
    auto* stream = stream_of(session, id);
    if (!stream || !stream->body) {
      // Nobody reads it (refused, answered, failed): its window reopens at once, or it would
      // shrink the connection's for the other streams.
      nghttp2_session_consume(session, id, length);
      return 0;
    }
    stream->body_received += length;
    const auto& app = connection.server_.apps[static_cast<std::size_t>(stream->mount)];
    if (app.max_body_size && stream->body_received > app.max_body_size) {
      if (stream->channel) stream->channel->set_failure_status(413);
      logging::error_log().warn("request body larger than {}: reading stopped",
                                app.body_limit_name);
      stream->body->fail(RequestBodyError::Cause::too_large,
                         "request body larger than " + app.body_limit_name);
      stream->body.reset();
      nghttp2_session_consume(session, id, stream->body_received - stream->body_consumed);
      stream->body_consumed = stream->body_received;
      return 0;
    }
    stream->body_progress = std::chrono::steady_clock::now();
    stream->body->push(std::string_view(reinterpret_cast<const char*>(data), length));
    return 0;
  }

  static int on_stream_close(nghttp2_session* /*session*/, std::int32_t id,
                             std::uint32_t /*error_code*/, void* user_data) {
    auto& connection = self(user_data);
    const auto found = connection.streams_.find(id);
    if (found == connection.streams_.end()) return 0;
    auto stream = std::move(found->second);
    connection.streams_.erase(found);
    stream->open = false;
    if (stream->body && !stream->body_ended) {
      stream->body->fail(RequestBodyError::Cause::client_gone, "the client reset the stream");
    }
    if (stream->in_app) {
      // The app still runs: it learns that the client is gone, and the stream is kept until
      // the app lets go of it, since it still counts against max_concurrent_streams.
      stream->channel->close();
      connection.orphans_[id] = std::move(stream);
    }
    connection.arm_timer();
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& connection = self(user_data);
    // Progress, for the stall deadline: response bytes, not PING acknowledgements.
    if (frame->hd.type == NGHTTP2_DATA)
      connection.last_progress_ = std::chrono::steady_clock::now();
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR) {
      logging::error_log().warn(
          "closed the HTTP/2 connection from {} with GOAWAY {}: {}", connection.peer_name(),
          nghttp2_http2_strerror(frame->goaway.error_code),
          connection.goaway_reason_.empty() ? "a protocol error" : connection.goaway_reason_);
    }
    // The response is out while the client still sends a body nobody reads: stop it
    // (RFC 9113 §8.1), which also gives its window back.
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      if (auto* stream = stream_of(session, frame->hd.stream_id); stream && !stream->body_ended)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int on_error(nghttp2_session* /*session*/, int /*code*/, const char* message,
                      std::size_t length, void* user_data) {
    auto& connection = self(user_data);
    if (connection.goaway_reason_.empty()) connection.goaway_reason_.assign(message, length);
    return 0;
  }

  // nghttp2 asks for the next DATA frame's bytes.
  static ssize_t read_body(nghttp2_session* /*session*/, std::int32_t /*id*/, std::uint8_t* buffer,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void* user_data) {
    auto& connection = self(user_data);
    auto& stream = *static_cast<Http2Stream*>(source->ptr);
    if (!stream.has_output()) connection.take_from_channel(stream);
    std::size_t copied = 0;
    if (stream.out_offset < stream.out.size()) {
      copied = std::min(length, stream.out.size() - stream.out_offset);
      std::memcpy(buffer, stream.out.data() + stream.out_offset, copied);
      stream.out_offset += copied;
      if (stream.out_offset == stream.out.size()) {
        stream.out.clear();
        stream.out_offset = 0;
      }
    } else if (stream.file) {
      const ssize_t got = ::pread(stream.file->file.get(), buffer,
                                  std::min<std::uint64_t>(length, stream.file->length),
                                  static_cast<off_t>(stream.file->offset));
      if (got <= 0) {
        logging::error_log().error("reading the response's file failed: {}; the response was cut",
                                   got == 0 ? "it is shorter than it was" : std::strerror(errno));
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      copied = static_cast<std::size_t>(got);
      stream.file->offset += copied;
      stream.file->length -= copied;
      if (stream.file->length == 0) stream.file.reset();
    }
    if (stream.has_output()) return static_cast<ssize_t>(copied);
    if (!stream.response_complete) {
      if (copied > 0) return static_cast<ssize_t>(copied);
      stream.data_deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream.trailers.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      connection.submit_trailers(stream);
    }
    return static_cast<ssize_t>(copied);
  }

  // --- requests ---

  // The request's header block is complete: answer it without the app, or dispatch it.
  void begin_exchange(Http2Stream& stream) {
    auto& request = stream.request;
    if (request.method == "CONNECT") {
      stream.refusal = 405;  // CONNECT's tunnel (RFC 9113 §8.5) is not served
      request.target = stream.authority;
    }
    split_target(request.target, request.method == "CONNECT", request);
    // RFC 9113 §8.3.1: the authority stands for Host, which the apps read.
    bool has_host = false;
    std::vector<HttpHeader> fields;
    fields.reserve(request.headers.size() + 1);
    std::string cookies;
    for (auto& header : request.headers) {
      if (header.name == "host") has_host = true;
      if (header.name == "cookie") {  // §8.2.3: cookie crumbs join with "; " for HTTP/1.1 apps
        if (!cookies.empty()) cookies += "; ";
        cookies += header.value;
        continue;
      }
      fields.push_back(std::move(header));
    }
    if (!cookies.empty()) fields.push_back({"cookie", std::move(cookies)});
    if (!has_host && !stream.authority.empty())
      fields.insert(fields.begin(), {"host", stream.authority});
    request.headers = std::move(fields);
    drop_underscore_fields(request.headers, peer_.remote);
    RequestOrigin origin{peer_.remote.first, peer_.remote.second,
                         connection_.encrypted() ? "https" : "http", peer_.local.first,
                         peer_.local.second};
    if (peer_.trusted) {
      if (const auto verdict =
              apply_proxy_headers(request.headers, origin, server_.trusted_proxies);
          !verdict.ok) {
        logging::error_log().warn("refused a request from {} with 400: {}", peer_name(),
                                  verdict.reason);
        stream.refusal = 400;
      }
    }
    request.remote_addr = origin.client_addr;
    request.remote_port = origin.client_port;
    request.server_name = origin.server_name;
    request.server_port = origin.server_port;
    request.url_scheme = origin.scheme;
    request.tls = peer_.tls;
    stream.head_request = request.method == "HEAD";
    stream.mount = server_.route(request.path);
    if (stream.mount < 0) {
      stream.mount = 0;
      if (!stream.refusal) stream.refusal = 404;
    }
    request.mount = stream.mount;
    const auto& app = server_.apps[static_cast<std::size_t>(stream.mount)];
    if (!stream.refusal && app.max_body_size) {
      for (const auto& header : request.headers) {
        if (header.name != "content-length") continue;
        std::uint64_t length = 0;
        std::from_chars(header.value.data(), header.value.data() + header.value.size(), length);
        if (length > app.max_body_size) {
          logging::error_log().warn("refused a request from {} with 413: body larger than {}",
                                    peer_name(), app.body_limit_name);
          stream.refusal = 413;
        }
      }
    }
    open_exchange(stream);
    served_any_ = true;
    if (stream.refusal) {
      stream.channel->fail(stream.refusal);
      return update_stream(stream);
    }
    if (!stream.body_ended) {
      std::weak_ptr<Flushable> weak = streams_[stream.id];
      stream.body = std::make_shared<RequestBodyStream>(
          settings_.initial_window_size, [weak, &flushes = server_.flushes] { flushes.push(weak); },
          RequestBodyStream::WakeOn::every_read);
      request.body_stream = stream.body;
      stream.body_progress = std::chrono::steady_clock::now();
    }
    stream.in_app = true;
    ++streams_in_app_;
    ++server_.exchanges_with_contexts;
    if (!in_flight_) in_flight_ = shared_from_this();
    server_.dispatch(std::move(request), stream.channel);
  }

  void open_exchange(Http2Stream& stream) {
    stream.started = std::chrono::steady_clock::now();
    stream.access_pending = logging::access_log() != nullptr;
    if (stream.access_pending) {
      auto& access = stream.access;
      access.remote_addr = stream.request.remote_addr;
      access.method = stream.request.method;
      access.target = stream.request.target;
      access.version = 20;
      access.started = std::chrono::system_clock::now();
      access.tls = peer_.tls.get();
      if (server_.access_format.uses_request_headers())
        stream.request_headers = stream.request.headers;
    }
    ResponseFraming framing;
    framing.head_request = stream.head_request;
    framing.http_version = 20;
    framing.keep_headers = logging::access_log() && server_.access_format.uses_response_headers();
    std::weak_ptr<Flushable> weak = streams_[stream.id];
    stream.channel = std::make_shared<ResponseChannel>(
        framing, stream_response_high_water,
        [weak, &flushes = server_.flushes] { flushes.push(weak); });
    arm_timer();
  }

  void end_body(Http2Stream& stream) {
    stream.body_ended = true;
    if (stream.body) stream.body->end();
  }

  // What the app has read of the upload reopens the windows by as much.
  void give_back_consumed_body(Http2Stream& stream) {
    if (!stream.body || !stream.open) return;
    const auto consumed = stream.body->consumed();
    if (consumed > stream.body_consumed) {
      nghttp2_session_consume(session_.get(), stream.id, consumed - stream.body_consumed);
      stream.body_consumed = consumed;
    }
  }

  // --- responses ---

  void take_from_channel(Http2Stream& stream) {
    if (!stream.channel || stream.response_complete) return;
    auto batch = stream.channel->take();
    stream.out = std::move(batch.bytes);
    stream.out_offset = 0;
    if (batch.file) stream.file = std::move(batch.file);
    if (batch.complete) {
      stream.response_complete = true;
      stream.trailers = std::move(batch.trailers);
    }
    // The head comes in the first batch, before nghttp2 asks for any body (read_body).
    if (batch.head) submit_head(stream, std::move(*batch.head));
    if (batch.complete) finish_exchange(stream, batch.status, batch.cut);
  }

  void submit_head(Http2Stream& stream, ResponseChannel::Head head) {
    if (!stream.open || stream.head_submitted) return;
    stream.head_submitted = true;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(head.fields.size() + 1);
    fields.emplace_back(":status", std::to_string(head.status));
    // The adapters dropped the connection-specific fields (is_hop_by_hop); HTTP/2 wants the
    // names in lowercase (RFC 9113 §8.2).
    for (auto& header : head.fields) {
      fields.emplace_back(ascii_lowercase(header.name), std::move(header.value));
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [name, value] : fields) nva.push_back(field(name, value));
    const bool body_follows =
        !stream.response_complete || stream.has_output() || !stream.trailers.empty();
    nghttp2_data_provider provider{};
    provider.source.ptr = &stream;
    provider.read_callback = read_body;
    nghttp2_submit_response(session_.get(), stream.id, nva.data(), nva.size(),
                            body_follows ? &provider : nullptr);
  }

  void submit_trailers(Http2Stream& stream) {
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& header : stream.trailers)
      fields.emplace_back(ascii_lowercase(header.name), header.value);
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : fields) nva.push_back(field(name, value));
    nghttp2_submit_trailer(session_.get(), stream.id, nva.data(), nva.size());
    stream.trailers.clear();
  }

  void submit_or_resume(Http2Stream& stream) {
    if (!stream.open || !stream.head_submitted || !stream.data_deferred) return;
    if (stream.has_output() || stream.response_complete) {
      stream.data_deferred = false;
      nghttp2_session_resume_data(session_.get(), stream.id);
    }
  }

  // The app is done with the stream: count it, log it, let go of it.
  void finish_exchange(Http2Stream& stream, int status, bool cut) {
    ++server_.requests_since_trim;
    const bool asgi = server_.apps[static_cast<std::size_t>(stream.mount)].asgi;
    server_.stats->record_response(asgi ? shm::WorkerStats::asgi : shm::WorkerStats::wsgi, status,
                                   std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - stream.started));
    write_access_line(stream, status);
    if (cut && stream.open) {
      nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream.id,
                                NGHTTP2_INTERNAL_ERROR);
    }
    if (stream.in_app) {
      stream.in_app = false;
      --streams_in_app_;
      --server_.exchanges_with_contexts;
    }
    orphans_.erase(stream.id);  // may be the last reference: `stream` is not used after
    if (streams_in_app_ == 0) {
      auto keep = std::move(in_flight_);
      arm_timer();
    }
  }

  void write_access_line(Http2Stream& stream, int status) {
    auto* log = logging::access_log();
    if (!log || !stream.access_pending) return;
    stream.access_pending = false;
    auto& access = stream.access;
    access.status = status;
    access.body_bytes = stream.channel->body_bytes();
    access.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - stream.started);
    access.request_headers = &stream.request_headers;
    access.response_headers = &stream.channel->headers();
    log->info(server_.access_json ? AccessLogFormat::json(access)
                                  : server_.access_format.text(access));
  }

  // --- abuse ---

  void count_costly_frame(const char* what) {
    const auto now = std::chrono::steady_clock::now();
    if (now - costly_window_start_ > std::chrono::seconds(1)) {
      costly_window_start_ = now;
      costly_frames_ = 0;
    }
    if (++costly_frames_ > control_frames_per_second)
      go_away(NGHTTP2_ENHANCE_YOUR_CALM, std::string("a flood of ") + what);
  }

  void go_away(std::uint32_t error, std::string why) {
    if (goaway_sent_) return;
    goaway_sent_ = true;
    goaway_reason_ = std::move(why);
    nghttp2_session_terminate_session(session_.get(), error);
  }

  // --- the socket ---

  void read() {
    if (reading_ || !session_) return;
    reading_ = true;
    if (read_buffer_.size() < read_chunk) read_buffer_.resize(read_chunk);
    connection_.async_read_some(asio::buffer(read_buffer_),
                                [self = shared_from_this()](error_code ec, std::size_t n) {
                                  self->reading_ = false;
                                  if (ec || !self->session_) return self->close();
                                  self->on_received(self->read_buffer_.data(), n);
                                  if (!self->session_) return;
                                  self->send();
                                  self->read();
                                });
  }

  void on_received(const char* data, std::size_t size) {
    const auto used =
        nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const std::uint8_t*>(data), size);
    if (used < 0) {
      // A fatal error nghttp2 answers with no frame of its own (a bad preface, a CONTINUATION
      // flood, a flood of frames it must acknowledge): GOAWAY by hand, then close.
      logging::error_log().warn("closed the HTTP/2 connection from {}: {}", peer_name(),
                                nghttp2_strerror(static_cast<int>(used)));
      send_raw_goaway(used == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? NGHTTP2_PROTOCOL_ERROR
                                                           : NGHTTP2_ENHANCE_YOUR_CALM);
      return close();
    }
    arm_timer();
  }

  void send_raw_goaway(std::uint32_t error) {
    const std::uint32_t last =
        static_cast<std::uint32_t>(nghttp2_session_get_last_proc_stream_id(session_.get()));
    std::array<unsigned char, 17> frame = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) {
      frame[9 + i] = static_cast<unsigned char>(last >> (24 - 8 * i));
      frame[13 + i] = static_cast<unsigned char>(error >> (24 - 8 * i));
    }
    const std::string_view bytes(reinterpret_cast<const char*>(frame.data()), frame.size());
    if (connection_.encrypted()) {
      connection_.try_write(bytes);
    } else {
      send_now(connection_.socket().native_handle(), bytes);
    }
  }

  // Frames what nghttp2 has queued and writes it: at once when the socket takes it, else
  // asynchronously, then again.
  void send() {
    if (writing_ || !session_) return;
    for (;;) {
      while (pending_output_.size() < write_chunk) {
        const std::uint8_t* data = nullptr;
        const auto length = nghttp2_session_mem_send(session_.get(), &data);
        if (length < 0) return close();
        if (length == 0) break;
        pending_output_.append(reinterpret_cast<const char*>(data),
                               static_cast<std::size_t>(length));
      }
      if (pending_output_.empty()) break;
      const auto sent = connection_.encrypted()
                            ? connection_.try_write(pending_output_)
                            : send_now(connection_.socket().native_handle(), pending_output_);
      if (!sent) return close();
      if (*sent < pending_output_.size()) {
        pending_output_.erase(0, *sent);
        return write_async();
      }
      pending_output_.clear();
    }
    if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get()))
      return close();
    arm_timer();
  }

  void write_async() {
    writing_ = true;
    arm_timer();
    auto kept = std::make_shared<std::string>(std::move(pending_output_));
    pending_output_.clear();
    asio::async_write(connection_, asio::buffer(*kept),
                      [self = shared_from_this(), kept](error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->close();
                        self->send();
                      });
  }

  // One deadline at a time, by what the connection is doing:
  // - a response waits for its client (flow-control window or socket full): stall_timeout
  //   since the last bytes went out;
  // - a request's header block has begun and not ended: limits.header_timeout;
  // - the app reads a request body whose client sends nothing, though its window is open:
  //   limits.body_timeout since that stream's last DATA;
  // - nothing in flight: keepalive (header_timeout before the first request), shorter while
  //   draining;
  // - the app is answering: none (the arbiter's `timeout` watches the app).
  // Re-armed only when the reason changes: the stall deadline counts from the last progress,
  // which on_deadline() checks again.
  void arm_timer() {
    if (!session_ || timer_reason_ == Deadline::goodbye) return;
    const Deadline reason = waiting_for_client()                       ? Deadline::stall
                            : headers_pending()                        ? Deadline::headers
                            : earliest_body_deadline()                 ? Deadline::body
                            : streams_.empty() && streams_in_app_ == 0 ? Deadline::idle
                                                                       : Deadline::none;
    if (reason == timer_reason_) return;
    timer_reason_ = reason;
    if (reason == Deadline::none) {
      timer_.cancel();
      return;
    }
    config::Duration deadline = settings_.stall_timeout;
    if (reason == Deadline::stall) {
      last_progress_ = std::chrono::steady_clock::now();
    } else if (reason == Deadline::body) {
      deadline = std::chrono::duration_cast<config::Duration>(*earliest_body_deadline() -
                                                              std::chrono::steady_clock::now());
    } else if (reason == Deadline::headers) {
      deadline = server_.config.limits.header_timeout;
    } else {
      deadline = draining_     ? drain_linger
                 : served_any_ ? server_.config.keepalive
                               : server_.config.limits.header_timeout;
    }
    timer_.expires_after(deadline);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_deadline();
    });
  }

  // A stream whose header block has not ended (HEADERS without END_HEADERS, CONTINUATION
  // frames to come): slow-loris over HTTP/2, bounded by limits.header_timeout as HTTP/1.1's
  // request heads are.
  bool headers_pending() const {
    return std::any_of(streams_.begin(), streams_.end(),
                       [](const auto& entry) { return !entry.second->channel; });
  }

  // The app waits for a body its client does not send: the app has read (its first read
  // reopens the window), there is room for more, and no END_STREAM came.
  static bool body_awaited(const Http2Stream& stream) {
    return stream.body && !stream.body_ended && stream.body->wants_more();
  }

  // When the first awaited body passes limits.body_timeout, if any body is awaited.
  std::optional<std::chrono::steady_clock::time_point> earliest_body_deadline() const {
    std::optional<std::chrono::steady_clock::time_point> earliest;
    for (const auto& [id, stream] : streams_) {
      if (!body_awaited(*stream)) continue;
      const auto due = stream->body_progress + server_.config.limits.body_timeout;
      if (!earliest || due < *earliest) earliest = due;
    }
    return earliest;
  }

  // As HTTP/1.1's: 408 when the response has not begun (else the stream is reset), and the
  // app's read fails as on a disconnect. Other streams go on.
  void time_out_body(Http2Stream& stream) {
    const bool answered = stream.channel && stream.channel->fail_unstarted(408);
    logging::error_log().warn(
        "no request body bytes on HTTP/2 stream {} from {} for {:g}s (limits.body_timeout): {}",
        stream.id, peer_name(),
        std::chrono::duration<double>(server_.config.limits.body_timeout).count(),
        answered ? "answered 408" : "the stream was reset");
    stream.body->fail(RequestBodyError::Cause::timed_out,
                      "the client sent no body bytes within limits.body_timeout");
    stream.body.reset();  // DATA that still comes is dropped, its window given back
    if (answered) return update_stream(stream);
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_CANCEL);
  }

  bool waiting_for_client() const {
    if (writing_) return true;
    for (const auto& [id, stream] : streams_) {
      if (stream->head_submitted && stream->data_deferred == false &&
          (stream->has_output() || (stream->response_complete && stream->open)))
        return true;
    }
    return false;
  }

  void on_deadline() {
    if (!session_) return;
    if (timer_reason_ == Deadline::stall) {
      const auto quiet = std::chrono::steady_clock::now() - last_progress_;
      if (!waiting_for_client() || quiet < settings_.stall_timeout) {
        timer_reason_ = Deadline::none;
        if (!waiting_for_client()) return arm_timer();
        timer_reason_ = Deadline::stall;
        timer_.expires_after(settings_.stall_timeout -
                             std::chrono::duration_cast<config::Duration>(quiet));
        timer_.async_wait([weak = weak_from_this()](error_code ec) {
          if (ec) return;
          if (auto self = weak.lock()) self->on_deadline();
        });
        return;
      }
      go_away(NGHTTP2_ENHANCE_YOUR_CALM,
              "its client took none of a pending response for http2.stall_timeout");
      if (writing_) return close();  // the socket itself is full: GOAWAY cannot go out
      send();
      return arm_goodbye();
    }
    if (timer_reason_ == Deadline::body) {
      timer_reason_ = Deadline::none;
      const auto now = std::chrono::steady_clock::now();
      for (auto& [id, stream] : streams_) {
        if (body_awaited(*stream) &&
            now - stream->body_progress >= server_.config.limits.body_timeout) {
          time_out_body(*stream);
        }
      }
      send();
      return arm_timer();  // the next awaited body's deadline, or another reason
    }
    if (timer_reason_ == Deadline::headers) {
      timer_reason_ = Deadline::none;
      if (!headers_pending()) return arm_timer();
      go_away(NGHTTP2_ENHANCE_YOUR_CALM,
              "a header block not complete within limits.header_timeout");
      send();
      return arm_goodbye();
    }
    if (timer_reason_ == Deadline::idle) {
      if (goaway_sent_) return close();
      goaway_sent_ = true;
      timer_reason_ = Deadline::none;
      nghttp2_session_terminate_session(session_.get(), NGHTTP2_NO_ERROR);
      send();
      arm_goodbye();
    }
  }

  // The GOAWAY is queued: the connection closes once it is out, or after goodbye_time.
  void arm_goodbye() {
    if (!session_) return;
    timer_reason_ = Deadline::goodbye;
    timer_.expires_after(goodbye_time);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    for (auto* streams : {&streams_, &orphans_}) {
      for (auto& [id, stream] : *streams) {
        if (stream->channel) stream->channel->close();
        if (stream->body && !stream->body_ended)
          stream->body->fail(RequestBodyError::Cause::client_gone, "client disconnected");
        if (stream->in_app) {
          stream->in_app = false;
          --server_.exchanges_with_contexts;
        }
      }
    }
    streams_in_app_ = 0;
    error_code ignored;
    connection_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    connection_.socket().close(ignored);
    // nghttp2 goes before the streams it points to.
    session_.reset();
    orphans_.clear();
    streams_.clear();
    auto keep = std::move(in_flight_);  // released last: maybe the last reference
  }

  std::string peer_name() const {
    return peer_.remote.first + ":" + std::to_string(peer_.remote.second);
  }

  ServerState& server_;
  ConnectionStream connection_;
  const Http2Peer peer_;
  asio::steady_timer timer_;
  const config::Http2& settings_;
  std::unique_ptr<nghttp2_session, SessionDeleter> session_;
  std::map<std::int32_t, std::shared_ptr<Http2Stream>> streams_;  // open in nghttp2
  // Reset by the client while the app still runs them: kept until the app lets go.
  std::map<std::int32_t, std::shared_ptr<Http2Stream>> orphans_;
  std::int64_t streams_in_app_ = 0;
  std::shared_ptr<Http2Connection> in_flight_;  // self, while the app runs any stream
  std::vector<char> read_buffer_;
  std::string pending_output_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool draining_ = false;
  bool served_any_ = false;
  bool goaway_sent_ = false;
  std::string goaway_reason_;
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point costly_window_start_ = std::chrono::steady_clock::now();
  int costly_frames_ = 0;
  enum class Deadline { none, idle, headers, body, stall, goodbye } timer_reason_ = Deadline::none;
};

void Http2Stream::flush() {
  if (auto owner = connection.lock()) owner->flush_stream(*this);
}

}  // namespace

bool is_http2_preface_head(std::string_view head) { return head == "PRI * HTTP/2.0\r\n\r\n"; }

std::optional<std::string> decode_http2_settings(std::string_view field) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : field) {
    int value = -1;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      value = c - '0' + 52;
    else if (c == '-' || c == '+')
      value = 62;
    else if (c == '_' || c == '/')
      value = 63;
    else if (c == '=')
      break;
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  if (out.size() % 6 != 0) return std::nullopt;  // SETTINGS entries are 6 bytes each
  return out;
}

void start_http2(ServerState& server, ConnectionStream connection, Http2Peer peer,
                 std::string received, std::optional<Http2Upgrade> upgrade) {
  std::make_shared<Http2Connection>(server, std::move(connection), std::move(peer))
      ->start(std::move(received), std::move(upgrade));
}

}  // namespace hornbeam::worker
