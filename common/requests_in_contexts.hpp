#pragma once

// How many requests the worker's contexts have at this instant: written by the I/O thread as
// it hands requests over and sees them complete, read by any thread. A thread about to wait
// for a reply (redis/connection.cpp) polls for it only when this is at most its own request:
// on a loaded worker the core has better to do than poll.

#include <atomic>
#include <cstddef>

namespace hornbeam {

inline std::atomic<std::size_t> requests_in_contexts{0};

// The I/O thread's count of requests with the contexts, published to requests_in_contexts on
// every change.
class RequestsInContexts {
 public:
  RequestsInContexts& operator++() { return publish(count_ + 1); }
  RequestsInContexts& operator--() { return publish(count_ - 1); }
  operator std::size_t() const { return count_; }

 private:
  RequestsInContexts& publish(std::size_t count) {
    count_ = count;
    requests_in_contexts.store(count, std::memory_order_relaxed);
    return *this;
  }
  std::size_t count_ = 0;
};

}  // namespace hornbeam
