#pragma once

// Blocks signals in the calling thread for a scope. Threads started inside the scope inherit
// the mask, which is how the worker keeps its signals on the I/O thread.

#include <pthread.h>
#include <signal.h>

#include <initializer_list>
#include <span>

namespace hornbeam {

class ScopedSignalBlock {
 public:
  explicit ScopedSignalBlock(std::initializer_list<int> signals)
      : ScopedSignalBlock(std::span<const int>(signals.begin(), signals.size())) {}
  explicit ScopedSignalBlock(std::span<const int> signals) {
    sigset_t blocked;
    sigemptyset(&blocked);
    for (const int signal : signals) sigaddset(&blocked, signal);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous_);
  }
  ~ScopedSignalBlock() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  ScopedSignalBlock(const ScopedSignalBlock&) = delete;
  ScopedSignalBlock& operator=(const ScopedSignalBlock&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace hornbeam
