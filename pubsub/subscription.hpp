#pragma once

// One subscriber's mailbox: the messages of its topics, queued until the app takes them, and
// an eventfd that is readable while some are queued (so an event loop can wait on it, and a
// thread can poll it). A subscriber that falls `max_queued` behind loses the newest messages
// and counts them: publishers never wait for a slow subscriber.

#include "common/unique_fd.hpp"

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hornbeam::pubsub {

struct Message {
  std::string topic;
  std::string payload;
};

class Subscription {
 public:
  static constexpr std::size_t max_queued = 1000;

  explicit Subscription(std::vector<std::string> topics);
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  const std::vector<std::string>& topics() const { return topics_; }
  int fd() const { return event_.get(); }

  // The bus: one message for this subscriber (false when it was dropped, the queue full).
  bool deliver(const std::string& topic, const std::string& payload);

  // The app: the oldest message, if any (never waits).
  std::optional<Message> take();
  // Waits until a message is queued or `timeout_ms` passes (-1: no limit); true when one is.
  bool wait(int timeout_ms) const;
  std::uint64_t dropped() const;

 private:
  const std::vector<std::string> topics_;
  UniqueFd event_;
  mutable std::mutex mutex_;
  std::deque<Message> queue_;
  bool signalled_ = false;  // the eventfd holds a count: readable
  std::uint64_t dropped_ = 0;
};

}  // namespace hornbeam::pubsub
