#include "worker/websocket_channel.hpp"

namespace hornbeam::worker {

WebSocketChannel::WebSocketChannel(std::size_t high_water) : high_water_(high_water) {}

void WebSocketChannel::accept(std::string subprotocol, std::vector<HttpHeader> headers) {
  {
    std::lock_guard lock(mutex_);
    actions_.push_back(WebSocketAccept{std::move(subprotocol), std::move(headers)});
  }
  wake_io();
}

bool WebSocketChannel::send(WebSocketMessage message) {
  {
    std::lock_guard lock(mutex_);
    if (ended_ || closing_) return false;
    action_bytes_ += message.data.size();
    actions_.push_back(std::move(message));
  }
  wake_io();
  return true;
}

void WebSocketChannel::close(WebSocketClose close) {
  {
    std::lock_guard lock(mutex_);
    if (ended_ || closing_) return;
    closing_ = true;
    actions_.push_back(std::move(close));
  }
  wake_io();
}

bool WebSocketChannel::has_room_or_notify() {
  std::lock_guard lock(mutex_);
  if (ended_ || action_bytes_ < high_water_) return true;
  wants_room_ = true;
  return false;
}

std::optional<WebSocketMessage> WebSocketChannel::receive() {
  std::optional<WebSocketMessage> message;
  bool resume = false;
  {
    std::lock_guard lock(mutex_);
    if (incoming_.empty()) return std::nullopt;
    message = std::move(incoming_.front());
    incoming_.pop_front();
    incoming_bytes_ -= message->data.size();
    if (reading_paused_ && incoming_bytes_ < high_water_) {
      reading_paused_ = false;
      resume = true;
    }
  }
  if (resume) wake_io();
  return message;
}

std::optional<WebSocketClose> WebSocketChannel::ended() {
  std::lock_guard lock(mutex_);
  if (!incoming_.empty()) return std::nullopt;
  return ended_;
}

void WebSocketChannel::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mutex_);
  loop_waker_ = std::move(waker);
}

void WebSocketChannel::set_io_waker(std::function<void()> waker) {
  std::lock_guard lock(mutex_);
  io_waker_ = std::move(waker);
}

std::optional<WebSocketAction> WebSocketChannel::next_action() {
  std::optional<WebSocketAction> action;
  bool room_freed = false;
  {
    std::lock_guard lock(mutex_);
    if (actions_.empty()) return std::nullopt;
    action = std::move(actions_.front());
    actions_.pop_front();
    if (const auto* message = std::get_if<WebSocketMessage>(&*action))
      action_bytes_ -= message->data.size();
    if (wants_room_ && action_bytes_ < high_water_) {
      wants_room_ = false;
      room_freed = true;
    }
  }
  if (room_freed) wake_loop();
  return action;
}

void WebSocketChannel::push_incoming(WebSocketMessage message) {
  {
    std::lock_guard lock(mutex_);
    incoming_bytes_ += message.data.size();
    incoming_.push_back(std::move(message));
  }
  wake_loop();
}

bool WebSocketChannel::pause_if_full() {
  std::lock_guard lock(mutex_);
  if (incoming_bytes_ < high_water_) return false;
  reading_paused_ = true;
  return true;
}

void WebSocketChannel::finish(WebSocketClose why) {
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended_ = std::move(why);
    actions_.clear();
    action_bytes_ = 0;
  }
  wake_loop();
}

void WebSocketChannel::wake_loop() { call(&WebSocketChannel::loop_waker_); }

void WebSocketChannel::wake_io() { call(&WebSocketChannel::io_waker_); }

// Called outside the lock: a waker may post to another thread that calls back in.
void WebSocketChannel::call(std::function<void()> WebSocketChannel::*which) {
  std::function<void()> waker;
  {
    std::lock_guard lock(mutex_);
    waker = this->*which;
  }
  if (waker) waker();
}

}  // namespace hornbeam::worker
