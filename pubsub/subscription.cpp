#include "pubsub/subscription.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace hornbeam::pubsub {

Subscription::Subscription(std::vector<std::string> topics)
    : topics_(std::move(topics)), event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!event_) throw std::runtime_error("cannot make an eventfd for a subscription");
}

bool Subscription::deliver(const std::string& topic, const std::string& payload) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= max_queued) {
    ++dropped_;
    return false;
  }
  queue_.push_back({topic, payload});
  if (!signalled_) {
    signalled_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(event_.get(), &one, sizeof one);
  }
  return true;
}

std::optional<Message> Subscription::take() {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) {
    if (signalled_) {  // drained: not readable any more, until the next delivery
      std::uint64_t count;
      [[maybe_unused]] const auto read = ::read(event_.get(), &count, sizeof count);
      signalled_ = false;
    }
    return std::nullopt;
  }
  Message message = std::move(queue_.front());
  queue_.pop_front();
  return message;
}

bool Subscription::wait(int timeout_ms) const {
  pollfd entry{event_.get(), POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready >= 0 || errno != EINTR) return ready > 0;
  }
}

std::uint64_t Subscription::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace hornbeam::pubsub
