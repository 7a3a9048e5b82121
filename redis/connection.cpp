#include "redis/connection.hpp"

#include "common/requests_in_contexts.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace hornbeam::redis {

std::shared_ptr<Connection> Connection::open(const Node& node, const std::shared_ptr<SSL_CTX>& tls,
                                             Clock::time_point deadline) {
  return std::make_shared<Connection>(Wire::open(node, tls, deadline));
}

Connection::Health Connection::health(std::string& failure) {
  std::lock_guard lock(mutex_);
  if (!failure_.empty()) {
    failure = failure_;
    return Health::failed;
  }
  if (reading_ || !queue_.empty() || Clock::now() - last_used_ < std::chrono::seconds(1))
    return Health::works;
  pollfd entry{wire_->fd(), POLLIN, 0};
  if (::poll(&entry, 1, 0) <= 0) return Health::works;
  // Bytes on an idle connection: a close, or under TLS an alert (or, on a connection never
  // used, TLS 1.3's session tickets: then one reconnection too many, never a failed call).
  char byte;
  const ssize_t peeked = ::recv(wire_->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return Health::works;
  break_off_locked(peeked == 0 ? "Redis closed the connection" : "bytes nobody asked for");
  return Health::closed_while_idle;
}

void Connection::break_off(const std::string& reason) {
  std::lock_guard lock(mutex_);
  break_off_locked(reason);
}

void Connection::break_off_locked(const std::string& reason) {
  if (failure_.empty()) failure_ = reason.empty() ? "the connection broke" : reason;
  for (Waiter* waiter : queue_) {
    waiter->done = true;
    waiter->wake.notify_one();
  }
  queue_.clear();
  // The reader, if any, wakes from its poll; the descriptor itself closes with the last user.
  wire_->shut_down();
}

std::vector<Reply> Connection::exchange(std::string_view commands, std::size_t count,
                                        Clock::time_point deadline) {
  Waiter self(count);
  self.replies.reserve(count);
  std::unique_lock lock(mutex_);
  if (!failure_.empty()) throw Unavailable(failure_);
  if (std::string why; !wire_->send_all(commands, deadline, why)) {
    break_off_locked(why);
    throw Unavailable(failure_);
  }
  queue_.push_back(&self);
  // Polling pays while the caller's request is the worker's only one; on a loaded worker the
  // core has better to do, and Redis batches the calls that wait (measured in
  // docs/performance.md).
  self.may_poll = requests_in_contexts.load(std::memory_order_relaxed) <= 1;
  last_used_ = Clock::now();
  while (!self.done) {
    if (!reading_) {
      reading_ = true;
      lock.unlock();
      std::string why;
      const bool read = read_for_everyone(self, deadline, why);
      lock.lock();
      reading_ = false;
      if (!read) break_off_locked(why);
      if (!queue_.empty()) queue_.front()->wake.notify_one();  // the next in line reads now
    } else if (!self.wake.wait_until(lock, deadline, [&] { return self.done || !reading_; })) {
      break_off_locked("no reply within shared_state.timeout");
    }
  }
  if (self.replies.size() != count) throw Unavailable(failure_);
  return std::move(self.replies);
}

bool Connection::read_for_everyone(Waiter& self, Clock::time_point deadline, std::string& why) {
  for (;;) {
    try {
      while (auto reply = parser_.next()) {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) {
          why = "a reply nobody asked for";
          return false;
        }
        Waiter* front = queue_.front();
        front->replies.push_back(std::move(*reply));
        if (front->replies.size() == front->expected) {
          front->done = true;
          queue_.pop_front();
          if (front != &self) front->wake.notify_one();
        }
      }
    } catch (const std::exception& e) {
      why = e.what();
      return false;
    }
    {
      std::lock_guard lock(mutex_);
      if (self.done) return failure_.empty();
    }
    constexpr std::size_t chunk = 64 * 1024;
    // A reply from a Redis nearby comes within microseconds: polling for it (yielding the core
    // between polls) saves the wake-up from sleep, a third of a call's time on loopback.
    bool ended = false;  // the peer closed, or an error: the blocking read below says which
    auto poll = [&] {
      std::string ignored;
      const long got = wire_->read_now(parser_.prepare(chunk), chunk, ignored);
      if (got > 0) parser_.commit(static_cast<std::size_t>(got));
      ended = got == Wire::closed || got == Wire::failed;
      return got > 0 || ended;
    };
    if (self.may_poll && !wire_->encrypted() &&
        spin_.found_work(SpinBeforeSleep::Wait::answer_due, poll, [] { sched_yield(); }) &&
        !ended) {
      continue;
    }
    if (Clock::now() >= deadline) {
      why = "no reply within shared_state.timeout";
      return false;
    }
    const long got = wire_->read_some(parser_.prepare(chunk), chunk, why);
    if (got > 0) {
      parser_.commit(static_cast<std::size_t>(got));
    } else if (got == Wire::closed) {
      why = "Redis closed the connection";
      return false;
    } else if (got == Wire::failed) {
      return false;
    }
    // nothing_yet: a read slice passed without a byte; the deadline is looked at again.
  }
}

}  // namespace hornbeam::redis
