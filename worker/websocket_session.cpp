// The second Beast translation unit (websocket::stream), kept apart from http_server.cpp so
// that the two compile side by side.

#include "worker/websocket_session.hpp"

#include "common/log_text.hpp"
#include "common/logging.hpp"

#include <spdlog/logger.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <optional>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

namespace hornbeam::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int protocol_error = 1002;
constexpr int abnormal_closure = 1006;  // RFC 6455: the connection dropped without a close frame
constexpr int invalid_payload = 1007;   // a text message that is not UTF-8
constexpr int message_too_big = 1009;

class Connection final : public WebSocketSession, public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnectionStream connection, std::shared_ptr<WebSocketChannel> channel,
             const config::WebSocket& settings, config::Duration send_timeout,
             std::set<WebSocketSession*>& sessions, std::string label)
      : ws_(std::move(connection)),
        channel_(std::move(channel)),
        settings_(settings),
        send_timeout_(send_timeout),
        sessions_(sessions),
        heartbeat_(ws_.get_executor()),
        label_(std::move(label)) {
    sessions_.insert(this);
  }
  ~Connection() override {
    sessions_.erase(this);
    channel_->finish({abnormal_closure, ""});  // never leave the app waiting (a no-op normally)
  }

  void start(http::request<http::empty_body> request, WebSocketAccept accept) {
    // The connection keeps itself until it ends (finish()): while reading is paused for an
    // app that has not taken its messages, no operation holds it, and it must not die then.
    alive_ = shared_from_this();
    std::weak_ptr<Connection> weak = weak_from_this();
    auto executor = ws_.get_executor();
    channel_->set_io_waker([weak, executor] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->pump();
      });
    });
    // Beast's idle timeout cannot ping at one interval and give up after another: the timing
    // is ours (arm_heartbeat), Beast only bounds the handshakes.
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(30);
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    ws_.set_option(timeout);
    ws_.control_callback(
        [this](websocket::frame_type, beast::string_view) { heard_ = Clock::now(); });
    ws_.read_message_max(settings_.max_message_size);
    if (settings_.compress) {
      websocket::permessage_deflate deflate;
      deflate.server_enable = true;
      ws_.set_option(deflate);
    }
    ws_.set_option(websocket::stream_base::decorator(
        [accept = std::move(accept)](websocket::response_type& response) {
          response.set(http::field::server, "hornbeam");
          if (!accept.subprotocol.empty())
            response.set(http::field::sec_websocket_protocol, accept.subprotocol);
          for (const auto& header : accept.headers) response.insert(header.name, header.value);
        }));
    auto shared_request = std::make_shared<http::request<http::empty_body>>(std::move(request));
    ws_.async_accept(
        *shared_request, [self = shared_from_this(), shared_request](beast::error_code ec) {
          if (ec) return self->fail({abnormal_closure, ""}, "handshake failed: " + ec.message());
          self->open_ = true;
          self->heard_ = Clock::now();
          self->read();
          self->pump();
          self->arm_heartbeat();
        });
  }

  void going_away() override {
    if (!open_ || closing_) return cut();
    begin_close({1001, "server shutting down"});
  }

  void cut() override { finish({abnormal_closure, ""}); }

 private:
  // Reads the next message unless the app has a high-water mark's worth still to take: then
  // reading pauses (TCP pushes back on the client) until a receive() makes room and wakes
  // pump(). A message larger than the mark is still read whole: the mark bounds what waits
  // between messages, websocket.max_message_size bounds one message.
  void read() {
    if (finished_ || reading_ || closing_) return;  // closing: async_close reads for itself
    if (channel_->pause_if_full()) {
      paused_ = true;
      return;
    }
    if (paused_) {
      paused_ = false;
      heard_ = Clock::now();  // nothing was read while paused: the peer was not silent
    }
    reading_ = true;
    // Read into a string that then moves to the app's queue: a message is never copied. Its
    // bound is Beast's read_message_max plus one byte of slack (an inflater at the very limit
    // may ask for a byte more than it will use): no read ever asks for more memory than that.
    message_buffer_.emplace(message_, static_cast<std::size_t>(settings_.max_message_size) + 1);
    ws_.async_read(*message_buffer_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->reading_ = false;
                     self->message_buffer_.reset();
                     if (ec) return self->on_read_error(ec);
                     self->heard_ = Clock::now();
                     self->channel_->push_incoming(
                         {!self->ws_.got_text(), std::exchange(self->message_, std::string())});
                     self->read();
                   });
  }

  void on_read_error(beast::error_code ec) {
    std::string().swap(message_);
    if (closing_) return finish(closed_by_us_);  // our closing handshake ended the reading
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      return finish(
          {reason.code ? static_cast<int>(reason.code) : 1005, std::string(reason.reason.c_str())});
    }
    // Beast answered these with a close frame of the code given here before failing the read.
    if (ec == websocket::error::message_too_big) {
      return fail({message_too_big, ""}, "a message larger than websocket.max_message_size (" +
                                             std::to_string(settings_.max_message_size) +
                                             " bytes): closed with 1009");
    }
    // A frame declaring more than the buffer may hold. Beast 1.81 checks a compressed frame's
    // declared length against read_message_max with an addition that overflows for lengths
    // near 2^64 (found by the websocket fuzzer); the buffer's bound catches it instead. No
    // close frame: its payload, claimed to be exabytes, can only be dropped.
    if (ec == websocket::error::buffer_overflow) {
      return fail({message_too_big, ""},
                  "a frame declaring more than websocket.max_message_size: dropped (1009)");
    }
    if (ec == websocket::error::bad_frame_payload) {
      return fail({invalid_payload, ""},
                  "invalid frame payload (" + ec.message() + "): closed with 1007");
    }
    if (ec == websocket::condition::protocol_violation) {
      return fail({protocol_error, ""}, "protocol error (" + ec.message() + "): closed with 1002");
    }
    fail({abnormal_closure, ""},
         "the connection dropped without a close frame (" + ec.message() + ")");
  }

  // Takes the app's next action when nothing is being written.
  void pump() {
    if (finished_ || !open_) return;
    read();  // resumes a read paused for a full incoming queue
    if (writing_ || closing_) return;
    auto action = channel_->next_action();
    if (!action) return;
    if (auto* message = std::get_if<WebSocketMessage>(&*action)) {
      writing_ = true;
      ws_.text(!message->binary);
      auto data = std::make_shared<std::string>(std::move(message->data));
      ws_.async_write(asio::buffer(*data), [self = shared_from_this(), data](beast::error_code ec,
                                                                             std::size_t) {
        self->writing_ = false;
        if (ec) {
          return self->fail({abnormal_closure, ""}, "sending failed (" + ec.message() + ")");
        }
        self->pump();
      });
    } else if (auto* close = std::get_if<WebSocketClose>(&*action)) {
      begin_close(*close);
    } else {
      pump();  // a second accept: nothing to do
    }
  }

  // The closing handshake; the pending read ends with error::closed once the peer answers.
  void begin_close(WebSocketClose close) {
    if (closing_) return;
    closing_ = true;
    closed_by_us_ = close;
    ws_.async_close(
        websocket::close_reason(static_cast<websocket::close_code>(close.code), close.reason),
        [self = shared_from_this()](beast::error_code) {
          // Done, or failed: either way the connection is over. A pending read ends with it too
          // (error::closed), but with reading paused there is none to say so.
          self->finish(self->closed_by_us_);
        });
  }

  // Pings every ping_interval, drops a peer silent (not even a pong) for idle_timeout, and one
  // that takes none of a frame for limits.send_timeout: while it sends, it is never silent,
  // and the app's sends would wait on it for ever (found by a peer that sends and never reads).
  void arm_heartbeat() {
    const auto idle = settings_.idle_timeout;
    auto period = std::chrono::duration_cast<config::Duration>(std::min(idle, send_timeout_) / 4);
    if (settings_.ping_interval.count() > 0) period = std::min(period, settings_.ping_interval);
    heartbeat_.expires_after(std::max(period, config::Duration(10)));
    heartbeat_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->finished_) return;
      const auto now = Clock::now();
      if (self->paused_) self->heard_ = now;  // not reading: what the peer sent waits unread
      if (now - self->heard_ >= self->settings_.idle_timeout) {
        return self->fail({abnormal_closure, ""},
                          "no frame from the peer for websocket.idle_timeout: dropped");
      }
      // A frame (or a ping) being written, of which the peer took nothing for that long.
      if (!(self->writing_ || self->pinging_) ||
          self->ws_.next_layer().took_bytes_since_last_look()) {
        self->took_bytes_at_ = now;
      } else if (now - self->took_bytes_at_ >= self->send_timeout_) {
        return self->fail({abnormal_closure, ""},
                          "the peer took none of a frame for limits.send_timeout: dropped");
      }
      const auto interval = self->settings_.ping_interval;
      if (interval.count() > 0 && now - self->pinged_ >= interval && !self->pinging_ &&
          !self->closing_) {
        self->pinging_ = true;
        self->pinged_ = now;
        self->ws_.async_ping({}, [self](beast::error_code) { self->pinging_ = false; });
      }
      self->arm_heartbeat();
    });
  }

  // An end that is not a closing handshake: one info line, then the same as finish().
  void fail(WebSocketClose why, const std::string& what) {
    if (finished_) return;
    logging::error_log().info("websocket {}: {}", label_, what);
    finish(std::move(why));
  }

  // The connection is over: the app learns how (websocket.disconnect), the socket closes, and
  // the connection lets go of itself.
  void finish(WebSocketClose why) {
    if (finished_) return;
    finished_ = true;
    heartbeat_.cancel();
    channel_->finish(std::move(why));
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(Protocol::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);
    const auto last = std::move(alive_);  // may be the last reference: released last
  }

  websocket::stream<ConnectionStream> ws_;
  std::string message_;  // the message being read
  // Beast reads through a dynamic buffer it holds by reference: one per read, over message_.
  std::optional<asio::dynamic_string_buffer<char, std::char_traits<char>, std::allocator<char>>>
      message_buffer_;
  std::shared_ptr<WebSocketChannel> channel_;
  const config::WebSocket& settings_;
  const config::Duration send_timeout_;
  Clock::time_point took_bytes_at_ = Clock::now();  // or the last look that found no write
  std::set<WebSocketSession*>& sessions_;
  asio::steady_timer heartbeat_;
  std::string label_;                  // "/path from 1.2.3.4:5678", for log lines
  std::shared_ptr<Connection> alive_;  // the connection itself, from start() to finish()
  Clock::time_point heard_{};          // the last frame from the peer (message or control)
  Clock::time_point pinged_{};         // the last ping we sent
  WebSocketClose closed_by_us_;
  bool open_ = false;
  bool reading_ = false;
  bool paused_ = false;  // reading waits for the app to take messages
  bool writing_ = false;
  bool pinging_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace

void start_websocket(ConnectionStream connection, http::request<http::empty_body> request,
                     std::shared_ptr<WebSocketChannel> channel, WebSocketAccept accept,
                     const config::WebSocket& settings, config::Duration send_timeout,
                     std::set<WebSocketSession*>& sessions, const std::string& peer) {
  std::string label = logging::escape_for_log(request.target()) + " from " + peer;
  std::make_shared<Connection>(std::move(connection), std::move(channel), settings, send_timeout,
                               sessions, std::move(label))
      ->start(std::move(request), std::move(accept));
}

}  // namespace hornbeam::worker
