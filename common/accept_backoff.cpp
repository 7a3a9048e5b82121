#include "common/accept_backoff.hpp"

#include "common/logging.hpp"

#include <spdlog/logger.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

namespace hornbeam {

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

std::chrono::milliseconds AcceptBackoff::failed(const std::string& why) {
  if (failures_ == 0) {
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    logging::error_log().warn(
        "accept failed: {} (open-file limit {}): new {} wait in the listen backlog until "
        "accepting works again (tried after 5 ms, then less often, up to every second)",
        why, files.rlim_cur, what_);
  }
  const unsigned doublings = std::min(failures_, 10u);
  ++failures_;
  return std::min(first_wait * (1u << doublings), longest_wait);
}

unsigned AcceptBackoff::succeeded() {
  const unsigned failures = failures_;
  failures_ = 0;
  if (failures > 0)
    logging::error_log().info("accepting {} again (after {} failed tries)", what_, failures);
  return failures;
}

}  // namespace hornbeam
