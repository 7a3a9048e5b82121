#pragma once

// One connection to one Redis server, shared by every thread of the worker that calls it.
//
// Callers' commands are pipelined: each caller writes its commands (under a lock, so the
// bytes of two callers never interleave) and queues itself for as many replies; replies come
// back in the order the commands went. Whoever waits first reads the socket for everyone and
// hands each caller its replies; when its own are in, it passes the reading on to the next in
// line. So concurrent
// calls share round trips and no thread exists only to read. Blocking, with a deadline per
// call: the caller has released the GIL.
//
// A deadline missed, or a socket error, breaks the connection for every caller queued on it
// (their replies can no longer be matched to them): they all fail with Unavailable, and the
// Client opens a new connection.

#include "common/spin_before_sleep.hpp"
#include "redis/resp.hpp"
#include "redis/target.hpp"
#include "redis/wire.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::redis {

// Redis could not answer in time: down, unreachable, too slow, or the connection broke.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Connection {
 public:
  // Connects to `node` (TLS when `tls` is given) before `deadline`. Throws Unavailable.
  static std::shared_ptr<Connection> open(const Node& node, const std::shared_ptr<SSL_CTX>& tls,
                                          Clock::time_point deadline);

  explicit Connection(std::unique_ptr<Wire> wire) : wire_(std::move(wire)) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `count` RESP-encoded commands and returns their `count` replies, in order (error
  // replies included). Throws Unavailable when they are not all in by `deadline`.
  std::vector<Reply> exchange(std::string_view commands, std::size_t count,
                              Clock::time_point deadline);

  enum class Health {
    works,
    failed,  // `failure` says why
    // After a second unused, the server had closed it (a restart, its idle `timeout`): a
    // call after a quiet spell gets a new connection instead of failing on this one.
    closed_while_idle,
  };
  // One look under one lock (every call makes it).
  Health health(std::string& failure);
  // Breaks it: every queued caller fails with `reason`.
  void break_off(const std::string& reason);

 private:
  struct Waiter {
    explicit Waiter(std::size_t count) : expected(count) {}
    std::size_t expected;
    std::vector<Reply> replies;
    bool done = false;
    bool may_poll = false;  // for its reply, before it sleeps
    // Woken alone: when its replies are in, or when it is first in line to read (a wake-up
    // of every waiter per reply would cost each of them a context switch).
    std::condition_variable wake;
  };

  void break_off_locked(const std::string& reason);
  // Reads replies (without the lock) and hands them out, until `self` has all of its own.
  // False when the socket failed or `deadline` passed (`why` says which).
  bool read_for_everyone(Waiter& self, Clock::time_point deadline, std::string& why);

  mutable std::mutex mutex_;
  std::unique_ptr<Wire> wire_;
  std::deque<Waiter*> queue_;  // callers whose replies are due, in the order of their commands
  bool reading_ = false;       // one caller reads the socket at a time
  std::string failure_;
  Clock::time_point last_used_ = Clock::now();
  // Touched only by the caller that reads.
  ReplyParser parser_;
  SpinBeforeSleep spin_{std::chrono::microseconds(30)};
};

}  // namespace hornbeam::redis
