#pragma once

// What a listener does when accept() fails.
//
// Out of descriptors (EMFILE, ENFILE) or of kernel memory (ENOBUFS, ENOMEM), the connection
// stays in the listen backlog and accept() fails again at once until something is freed:
// trying again at once spins the I/O thread at 100 % and writes a log line per try (a million
// a second). So the listener waits, 5 ms doubling up to 1 s (Go's net/http's schedule), and
// says so once per episode; the connections wait in the backlog and are served once
// descriptors are free again. A connection that the client reset before it was accepted
// (ECONNABORTED) and the like are its own business: the next one is accepted at once.

#include <chrono>

namespace hornbeam::worker {

enum class AcceptFailure {
  of_that_connection,  // ECONNABORTED, EPROTO, EPERM (a firewall), EINTR, EAGAIN: go on
  of_this_process,     // anything else, exhaustion first: wait before the next try
};

AcceptFailure classify_accept_failure(int error);

class AcceptBackoff {
 public:
  // After a failure of this process: how long to wait before the next accept.
  std::chrono::milliseconds failed();
  // After an accept that worked: how many tries failed in a row before it (0: none).
  unsigned succeeded();
  bool backing_off() const { return failures_ > 0; }

  static constexpr std::chrono::milliseconds first_wait{5};
  static constexpr std::chrono::milliseconds longest_wait{1000};

 private:
  unsigned failures_ = 0;
};

}  // namespace hornbeam::worker
