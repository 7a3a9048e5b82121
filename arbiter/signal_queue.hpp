#pragma once

// Signals for the arbiter's loop: the handlers only write the signal number into a
// non-blocking self-pipe; the loop reads them back in order and handles them outside any
// signal context.

#include "common/unique_fd.hpp"

#include <chrono>
#include <initializer_list>
#include <vector>

namespace hornbeam::arbiter {

class SignalQueue {
 public:
  // Installs the handlers (one queue per process). Children get default dispositions back
  // at exec, since handlers do not survive it.
  explicit SignalQueue(std::initializer_list<int> signals);
  ~SignalQueue();
  SignalQueue(const SignalQueue&) = delete;
  SignalQueue& operator=(const SignalQueue&) = delete;

  // The signals that arrived, waiting up to `timeout` for the first one (or a wake()).
  std::vector<int> wait(std::chrono::milliseconds timeout);
  // From any thread: ends the current wait() early (the control socket has work for the loop).
  void wake();
  // wait() also ends when `fd` is readable (-1: none); the caller reads it.
  void also_wake_on(int fd) { extra_fd_ = fd; }

 private:
  UniqueFd read_end_;
  UniqueFd write_end_;
  std::vector<int> signals_;
  int extra_fd_ = -1;
};

}  // namespace hornbeam::arbiter
