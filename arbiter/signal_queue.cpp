#include "arbiter/signal_queue.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace hornbeam::arbiter {
namespace {

int pipe_write_fd = -1;
constexpr unsigned char wake_byte = 0;  // no signal has number 0

void enqueue(int signal) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] const auto written =
      ::write(pipe_write_fd, &byte, 1);  // full pipe: dropped (a storm)
  errno = saved;
}

}  // namespace

SignalQueue::SignalQueue(std::initializer_list<int> signals) : signals_(signals) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error("cannot create the signal pipe");
  read_end_.reset(ends[0]);
  write_end_.reset(ends[1]);
  pipe_write_fd = write_end_.get();
  struct sigaction action {};
  action.sa_handler = enqueue;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : signals_) ::sigaction(signal, &action, nullptr);
}

SignalQueue::~SignalQueue() {
  for (const int signal : signals_) ::signal(signal, SIG_DFL);
  pipe_write_fd = -1;
}

std::vector<int> SignalQueue::wait(std::chrono::milliseconds timeout) {
  pollfd ready[2] = {{read_end_.get(), POLLIN, 0}, {extra_fd_, POLLIN, 0}};
  std::vector<int> arrived;
  if (::poll(ready, extra_fd_ >= 0 ? 2 : 1, static_cast<int>(timeout.count())) <= 0 ||
      !(ready[0].revents & POLLIN))
    return arrived;
  unsigned char bytes[64];
  for (ssize_t n; (n = ::read(read_end_.get(), bytes, sizeof bytes)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) {
      if (bytes[i] != wake_byte) arrived.push_back(bytes[i]);
    }
  }
  return arrived;
}

void SignalQueue::wake() {
  const unsigned char byte = wake_byte;
  [[maybe_unused]] const auto written = ::write(write_end_.get(), &byte, 1);  // full: awake anyway
}

}  // namespace hornbeam::arbiter
