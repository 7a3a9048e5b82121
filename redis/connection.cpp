#include "redis/connection.hpp"

#include "common/requests_in_contexts.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <sched.h>

#include <cerrno>
#include <cstring>

namespace hornbeam::redis {
namespace {

// How long a blocking read waits before it looks at its call's deadline again: a call ends
// at most this long after its deadline.
constexpr std::chrono::microseconds read_slice{20'000};

// Waits until `fd` is ready for `events` or `deadline` passes (false then).
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

std::string system_error(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

UniqueFd connect_address(const addrinfo& address, Clock::time_point deadline, std::string& why) {
  UniqueFd fd(::socket(address.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    why = system_error("socket");
    return {};
  }
  if (::connect(fd.get(), address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      why = system_error("connect");
      return {};
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      why = "connect: timed out";
      return {};
    }
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      why = std::string("connect: ") + std::strerror(error);
      return {};
    }
  }
  const int on = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  // Reads block (one recv per reply instead of a poll and a recv), waking at least every
  // read_slice to look at the call's deadline; sends never block (MSG_DONTWAIT).
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  const timeval slice{0, static_cast<suseconds_t>(read_slice.count())};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
  return fd;
}

}  // namespace

UniqueFd connect_to(const Node& node, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const auto port = std::to_string(node.port);
  if (const int error = ::getaddrinfo(node.host.c_str(), port.c_str(), &hints, &found)) {
    throw Unavailable("cannot resolve " + node.host + ": " + ::gai_strerror(error));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  std::string why = "no address";
  for (const addrinfo* address = found; address; address = address->ai_next) {
    if (UniqueFd fd = connect_address(*address, deadline, why)) return fd;
  }
  throw Unavailable(why);
}

std::shared_ptr<Connection> Connection::open(const Node& node, Clock::time_point deadline) {
  return std::make_shared<Connection>(connect_to(node, deadline));
}

bool Connection::broken() const {
  std::lock_guard lock(mutex_);
  return !failure_.empty();
}

std::string Connection::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

bool Connection::closed_while_idle() {
  std::lock_guard lock(mutex_);
  if (!failure_.empty()) return true;
  if (reading_ || !queue_.empty() || Clock::now() - last_used_ < std::chrono::seconds(1))
    return false;
  pollfd entry{socket_.get(), POLLIN, 0};
  if (::poll(&entry, 1, 0) <= 0) return false;
  char byte;
  const ssize_t peeked = ::recv(socket_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
  break_off_locked(peeked == 0 ? "Redis closed the connection" : "bytes nobody asked for");
  return true;
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
  ::shutdown(socket_.get(), SHUT_RDWR);
}

bool Connection::send_all(std::string_view bytes, Clock::time_point deadline, std::string& why) {
  while (!bytes.empty()) {
    const ssize_t sent =
        ::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(socket_.get(), POLLOUT, deadline)) {
        why = "send: timed out (shared_state.timeout)";
        return false;
      }
    } else {
      why = system_error("send");
      return false;
    }
  }
  return true;
}

std::vector<Reply> Connection::exchange(std::string_view commands, std::size_t count,
                                        Clock::time_point deadline) {
  Waiter self(count);
  self.replies.reserve(count);
  std::unique_lock lock(mutex_);
  if (!failure_.empty()) throw Unavailable(failure_);
  if (std::string why; !send_all(commands, deadline, why)) {
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
      const ssize_t got = ::recv(socket_.get(), parser_.prepare(chunk), chunk, MSG_DONTWAIT);
      if (got > 0) parser_.commit(static_cast<std::size_t>(got));
      ended = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      return got > 0 || ended;
    };
    if (self.may_poll &&
        spin_.found_work(SpinBeforeSleep::Wait::answer_due, poll, [] { sched_yield(); }) &&
        !ended) {
      continue;
    }
    if (Clock::now() >= deadline) {
      why = "no reply within shared_state.timeout";
      return false;
    }
    const ssize_t got = ::recv(socket_.get(), parser_.prepare(chunk), chunk, 0);
    if (got > 0) {
      parser_.commit(static_cast<std::size_t>(got));
    } else {
      // EAGAIN: a read_slice passed without a byte; the deadline is looked at again.
      if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      why = got == 0 ? "Redis closed the connection" : system_error("recv");
      return false;
    }
  }
}

}  // namespace hornbeam::redis
