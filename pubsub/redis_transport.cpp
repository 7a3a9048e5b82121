// Pub/sub over Redis: PUBLISH through the worker's client, and one connection per worker in
// subscribe mode, read by a thread that hands messages to the bus. Channels are the state's
// prefix + the topic. On a Redis Cluster both go to the first node given while it answers
// (the next ones after). Lost, the connection is made again (with backoff) and every topic
// subscribed again; what was published meanwhile is not delivered (Redis keeps no pub/sub
// history).

#include "common/logging.hpp"
#include "pubsub/bus.hpp"
#include "redis/client.hpp"
#include "redis/connection.hpp"
#include "redis/resp.hpp"

#include <spdlog/logger.h>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <set>
#include <thread>

namespace hornbeam::pubsub {
namespace {

using namespace std::chrono_literals;

class RedisTransport final : public Transport {
 public:
  RedisTransport(Bus& bus, redis::Client& client, std::string prefix)
      : bus_(bus), client_(client), prefix_(std::move(prefix)) {}

  ~RedisTransport() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (wire_) wire_->shut_down();
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::int64_t publish(std::string_view topic, std::string_view payload) override {
    const std::string channel = prefix_ + std::string(topic);
    const std::string_view words[] = {"PUBLISH", channel, payload};
    // On a cluster, to the first node given, where the workers subscribe too: any node would
    // forward the message to the others, but counts only its own subscribers, and messages
    // sent through different nodes may arrive out of order.
    const redis::Reply reply =
        client_.cluster() ? client_.call_on(0, words) : client_.call(channel, words);
    if (reply.is_error()) throw std::runtime_error("Redis PUBLISH: " + reply.text);
    return reply.integer;
  }

  // A channel is subscribed once per worker, however many subscriptions listen to it.
  void listen(const std::string& topic, bool first) override {
    if (!first) return;
    const std::string channel = prefix_ + topic;
    std::lock_guard lock(mutex_);
    channels_.insert(channel);
    unconfirmed_.insert(channel);
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { run(); });
      pthread_setname_np(thread_.native_handle(), "hb-pubsub");
    }
    send_locked({"SUBSCRIBE", channel});
  }

  void stop_listening(const std::string& topic, bool last) override {
    if (!last) return;
    const std::string channel = prefix_ + topic;
    std::lock_guard lock(mutex_);
    channels_.erase(channel);
    unconfirmed_.erase(channel);
    if (send_locked({"UNSUBSCRIBE", channel})) unsubscribing_.insert(channel);
  }

  // Both ways: once a subscription is closed, Redis no longer counts this worker for its
  // topics (a publish right after says 0, as on shared memory).
  void settle() override {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, client_.timeout(), [&] {
      return (unconfirmed_.empty() && unsubscribing_.empty()) || stopping_;
    });
  }

 private:
  // Only while connected (says whether it was); on a new connection, run() subscribes to
  // everything again.
  bool send_locked(std::initializer_list<std::string_view> words) {
    if (!wire_) return false;
    std::string command, why;
    redis::append_command(command, words);
    wire_->send_all(command, redis::Clock::now() + client_.timeout(), why);  // fails: run() sees
    return true;
  }

  void run() {
    auto backoff = 100ms;
    bool down_logged = false;
    std::size_t node = 0;
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      const auto& nodes = client_.target().nodes;
      const auto& where = nodes[node++ % nodes.size()];
      try {
        subscribe_and_read(where, down_logged, backoff);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        if (stopping_) return;  // the destructor cut the connection
        if (!down_logged) {
          logging::error_log().warn(
              "pub/sub: Redis at {} is unavailable ({}); messages published meanwhile are not "
              "delivered here",
              redis::to_string(where), e.what());
          down_logged = true;
        }
      }
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }

  // Connects, subscribes to every channel, and dispatches messages until the connection
  // ends (throws) or the transport stops (returns). Its first reply is the recovery (a
  // frozen server's kernel still accepts connections): logged if the loss was, and the
  // backoff starts again from its shortest.
  void subscribe_and_read(const redis::Node& where, bool& down_logged,
                          std::chrono::milliseconds& backoff) {
    auto wire = redis::Wire::open(where, client_.tls(), redis::Clock::now() + client_.timeout());
    // Messages come when they come: a plain read wakes once a second only to see if it must
    // stop (the destructor's shut_down() wakes it at once anyway).
    const timeval second{1, 0};
    if (!wire->encrypted())
      ::setsockopt(wire->fd(), SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
    std::string hello;
    redis::append_auth(hello, client_.target());
    redis::append_command(hello, {"PING"});  // a reply even with no channel to subscribe
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      unsubscribing_.clear();  // a new connection listens to nothing yet
      for (const auto& channel : channels_) {
        redis::append_command(hello, {"SUBSCRIBE", channel});
        unconfirmed_.insert(channel);
      }
      wire_ = wire.get();
      std::string why;
      wire_->send_all(hello, redis::Clock::now() + client_.timeout(), why);
    }
    redis::ReplyParser parser;
    bool answered = false;
    try {
      for (;;) {
        std::string why;
        const long got = wire->read_some(parser.prepare(64 * 1024), 64 * 1024, why);
        if (got == redis::Wire::closed) throw redis::Unavailable("Redis closed the connection");
        if (got == redis::Wire::failed) throw redis::Unavailable(why);
        if (got == redis::Wire::nothing_yet) {
          std::lock_guard lock(mutex_);
          if (stopping_) break;
          continue;
        }
        parser.commit(static_cast<std::size_t>(got));
        while (auto reply = parser.next()) {
          handle(*reply);
          if (!answered) {
            answered = true;
            backoff = 100ms / 2;  // doubled after this connection ends
            if (down_logged) {
              logging::error_log().info("pub/sub: Redis at {} is back", redis::to_string(where));
              down_logged = false;
            }
          }
        }
      }
    } catch (...) {
      forget_socket();
      throw;
    }
    forget_socket();
  }

  // Nothing is pending on a connection that is gone: the next one starts from channels_.
  void forget_socket() {
    std::lock_guard lock(mutex_);
    wire_ = nullptr;
    unsubscribing_.clear();
    changed_.notify_all();
  }

  void handle(const redis::Reply& reply) {
    if (reply.is_error()) throw redis::Unavailable(reply.text);
    if (reply.kind != redis::Reply::Kind::array || reply.elements.size() < 3) return;
    const auto& kind = reply.elements[0].text;
    const auto& channel = reply.elements[1].text;
    if (kind == "message" && channel.starts_with(prefix_)) {
      bus_.dispatch(channel.substr(prefix_.size()), reply.elements[2].text);
    } else if (kind == "subscribe" || kind == "unsubscribe") {
      std::lock_guard lock(mutex_);
      if (kind == "subscribe") {
        unconfirmed_.erase(channel);
      } else if (const auto found = unsubscribing_.find(channel); found != unsubscribing_.end()) {
        unsubscribing_.erase(found);
      }
      changed_.notify_all();
    }
  }

  Bus& bus_;
  redis::Client& client_;
  const std::string prefix_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> channels_;            // what this worker listens to
  std::set<std::string> unconfirmed_;         // SUBSCRIBE sent, not confirmed yet
  std::multiset<std::string> unsubscribing_;  // UNSUBSCRIBE sent, not confirmed yet
  redis::Wire* wire_ = nullptr;  // the subscribe connection while it is up (run() owns it)
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Transport> redis_transport(Bus& bus, redis::Client& client, std::string prefix) {
  return std::make_unique<RedisTransport>(bus, client, std::move(prefix));
}

}  // namespace hornbeam::pubsub
