#pragma once

// The bounded hand-over of one WebSocket connection between the I/O thread and the event loop
// running the app. Both directions are queues with a high-water mark: the I/O side stops
// reading from a client whose messages the app does not take, and the app's send() waits while
// a slow client has not taken what was queued for it.

#include "common/websocket_exchange.hpp"

#include <deque>
#include <mutex>
#include <variant>

namespace hornbeam::worker {

struct WebSocketAccept {
  std::string subprotocol;
  std::vector<HttpHeader> headers;
};

// What the app asked the I/O side to do, in order.
using WebSocketAction = std::variant<WebSocketAccept, WebSocketMessage, WebSocketClose>;

class WebSocketChannel final : public WebSocketPeer {
 public:
  explicit WebSocketChannel(std::size_t high_water);

  // WebSocketPeer, from the loop.
  void accept(std::string subprotocol, std::vector<HttpHeader> headers) override;
  bool send(WebSocketMessage message) override;
  void close(WebSocketClose close) override;
  bool has_room_or_notify() override;
  std::optional<WebSocketMessage> receive() override;
  std::optional<WebSocketClose> ended() override;
  void set_waker(std::function<void()> waker) override;

  // I/O thread.
  // Called (from the loop's thread) when there is an action to take or room to read again.
  void set_io_waker(std::function<void()> waker);
  std::optional<WebSocketAction> next_action();
  void push_incoming(WebSocketMessage message);
  // True when the app has not taken enough: stop reading (the next receive() wakes the I/O
  // side again).
  bool pause_if_full();
  // The connection is over (the client closed, it dropped, or the app's close completed).
  void finish(WebSocketClose why);

 private:
  void wake_loop();
  void wake_io();
  void call(std::function<void()> WebSocketChannel::*which);

  const std::size_t high_water_;
  mutable std::mutex mutex_;
  std::function<void()> loop_waker_;
  std::function<void()> io_waker_;
  std::deque<WebSocketAction> actions_;
  std::size_t action_bytes_ = 0;
  bool wants_room_ = false;
  std::deque<WebSocketMessage> incoming_;
  std::size_t incoming_bytes_ = 0;
  bool reading_paused_ = false;  // incoming_full() said so: wake the I/O side once there is room
  bool closing_ = false;         // the app closed: nothing more is sent
  std::optional<WebSocketClose> ended_;
};

}  // namespace hornbeam::worker
