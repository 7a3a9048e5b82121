// The second Beast translation unit (websocket::stream), kept apart from http_server.cpp so
// that the two compile side by side.

#include "worker/websocket_session.hpp"

#include "common/logging.hpp"

#include <spdlog/logger.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

namespace hornbeam::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int abnormal_closure = 1006;  // RFC 6455: the connection dropped without a close frame

class Connection final : public WebSocketSession, public std::enable_shared_from_this<Connection> {
 public:
  Connection(Protocol::socket socket, std::shared_ptr<WebSocketChannel> channel,
             const config::WebSocket& settings, std::set<WebSocketSession*>& sessions)
      : ws_(std::move(socket)),
        channel_(std::move(channel)),
        settings_(settings),
        sessions_(sessions),
        heartbeat_(ws_.get_executor()) {
    sessions_.insert(this);
  }
  ~Connection() override { sessions_.erase(this); }

  void start(http::request<http::empty_body> request, WebSocketAccept accept) {
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
          if (ec) return self->finish({abnormal_closure, "handshake failed: " + ec.message()});
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
  void read() {
    if (finished_ || reading_) return;
    if (channel_->pause_if_full()) return;  // the app's next receive() resumes us through pump()
    reading_ = true;
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      if (ec) return self->on_read_error(ec);
      self->heard_ = Clock::now();
      self->channel_->push_incoming(
          {!self->ws_.got_text(), beast::buffers_to_string(self->buffer_.data())});
      self->buffer_.clear();
      self->buffer_.shrink_to_fit();  // an idle connection keeps no message buffer
      self->read();
    });
  }

  void on_read_error(beast::error_code ec) {
    if (closing_) return finish(closed_by_us_);  // our closing handshake ended the reading
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      return finish(
          {reason.code ? static_cast<int>(reason.code) : 1005, std::string(reason.reason.c_str())});
    }
    if (ec == websocket::error::message_too_big) return finish({1009, "message too big"});
    finish({abnormal_closure, ""});
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
      ws_.async_write(asio::buffer(*data),
                      [self = shared_from_this(), data](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->finish({abnormal_closure, ""});
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
        [self = shared_from_this()](beast::error_code ec) {
          if (ec) self->finish(self->closed_by_us_);
        });
  }

  // Pings every ping_interval, and drops a peer silent (not even a pong) for idle_timeout.
  void arm_heartbeat() {
    const auto idle = settings_.idle_timeout;
    auto period = std::chrono::duration_cast<config::Duration>(idle / 4);
    if (settings_.ping_interval.count() > 0) period = std::min(period, settings_.ping_interval);
    heartbeat_.expires_after(std::max(period, config::Duration(10)));
    heartbeat_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->finished_) return;
      const auto now = Clock::now();
      if (now - self->heard_ >= self->settings_.idle_timeout)
        return self->finish({abnormal_closure, ""});
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

  void finish(WebSocketClose why) {
    if (finished_) return;
    finished_ = true;
    heartbeat_.cancel();
    channel_->finish(std::move(why));
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(Protocol::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);
  }

  websocket::stream<Protocol::socket> ws_;
  beast::flat_buffer buffer_;
  std::shared_ptr<WebSocketChannel> channel_;
  const config::WebSocket& settings_;
  std::set<WebSocketSession*>& sessions_;
  asio::steady_timer heartbeat_;
  Clock::time_point heard_{};   // the last frame from the peer (message or control)
  Clock::time_point pinged_{};  // the last ping we sent
  WebSocketClose closed_by_us_;
  bool open_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool pinging_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace

void start_websocket(Protocol::socket socket, http::request<http::empty_body> request,
                     std::shared_ptr<WebSocketChannel> channel, WebSocketAccept accept,
                     const config::WebSocket& settings, std::set<WebSocketSession*>& sessions) {
  std::make_shared<Connection>(std::move(socket), std::move(channel), settings, sessions)
      ->start(std::move(request), std::move(accept));
}

}  // namespace hornbeam::worker
