#pragma once

// What a listening socket's owner does when accept() fails.
//
// Out of descriptors (EMFILE, ENFILE) or of kernel memory (ENOBUFS, ENOMEM), the connection
// stays in the listen backlog and accept() fails again at once until something is freed:
// trying again at once spins a thread at 100 % and writes a log line per try (a million a
// second). So the owner waits, 5 ms doubling up to 1 s (Go's net/http's schedule), and says
// so once per episode; the connections wait in the backlog and are accepted once descriptors
// are free again. A connection that its client reset before it was accepted (ECONNABORTED)
// and the like are that connection's business: the next one is accepted at once.

#include <chrono>
#include <string>

namespace hornbeam {

enum class AcceptFailure {
  of_that_connection,  // ECONNABORTED, EPROTO, EPERM (a firewall), EINTR, EAGAIN: go on
  of_this_process,     // anything else, exhaustion first: wait before the next try
};

AcceptFailure classify_accept_failure(int error);

class AcceptBackoff {
 public:
  // `what` names the sockets in the log lines ("connections", "metrics scrapes").
  explicit AcceptBackoff(std::string what) : what_(std::move(what)) {}

  // After a failure of this process (`why`: its message): how long to wait before the next
  // accept. The first of an episode is logged, with the open-file limit.
  std::chrono::milliseconds failed(const std::string& why);
  // After an accept that worked: how many tries failed in a row before it (0: none); the end
  // of an episode is logged.
  unsigned succeeded();
  bool backing_off() const { return failures_ > 0; }

  static constexpr std::chrono::milliseconds first_wait{5};
  static constexpr std::chrono::milliseconds longest_wait{1000};

 private:
  std::string what_;
  unsigned failures_ = 0;
};

}  // namespace hornbeam
