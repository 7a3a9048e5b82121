#include "worker/accept_backoff.hpp"

#include <algorithm>
#include <cerrno>

namespace hornbeam::worker {

AcceptFailure classify_accept_failure(int error) {
  switch (error) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case EINTR:
    case EAGAIN: return AcceptFailure::of_that_connection;
    default: return AcceptFailure::of_this_process;
  }
}

std::chrono::milliseconds AcceptBackoff::failed() {
  const unsigned doublings = std::min(failures_, 10u);
  ++failures_;
  return std::min(first_wait * (1u << doublings), longest_wait);
}

unsigned AcceptBackoff::succeeded() {
  const unsigned failures = failures_;
  failures_ = 0;
  return failures;
}

}  // namespace hornbeam::worker
